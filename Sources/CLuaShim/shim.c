#include "CLuaShim.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct crescent_vm {
    size_t used;
    size_t limit;
    int enforce;
    int refused;
    void *owner;
    crescent_ctl *current;
} crescent_vm;

struct crescent_ctl {
    double deadline;
    atomic_int reason;
};

static char crescent_null_sentinel;
static crescent_dispatch_fn crescent_dispatch = NULL;

static crescent_vm *vm_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (crescent_vm *)ud;
}

static void *crescent_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    crescent_vm *vm = (crescent_vm *)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        vm->used -= old;
        return NULL;
    }
    if (nsize > old && vm->enforce && vm->used + (nsize - old) > vm->limit) {
        vm->refused = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL) {
        vm->refused = 1;
        return NULL;
    }
    vm->used = vm->used - old + nsize;
    return p;
}

lua_State *crescent_vm_new(size_t limit, void *owner) {
    crescent_vm *vm = calloc(1, sizeof(crescent_vm));
    if (!vm) return NULL;
    vm->limit = limit;
    vm->owner = owner;
    lua_State *L = lua_newstate(crescent_alloc, vm);
    if (!L) { free(vm); return NULL; }
    return L;
}

void crescent_vm_close(lua_State *L) {
    crescent_vm *vm = vm_of(L);
    vm->enforce = 0;
    vm->current = NULL;
    lua_close(L);
    free(vm);
}

void *crescent_vm_owner(lua_State *L) { return vm_of(L)->owner; }
void crescent_vm_set_owner(lua_State *L, void *owner) { vm_of(L)->owner = owner; }
size_t crescent_vm_used(lua_State *L) { return vm_of(L)->used; }
void crescent_vm_set_limit(lua_State *L, size_t limit) { vm_of(L)->limit = limit; }
void crescent_vm_set_enforce(lua_State *L, int on) { vm_of(L)->enforce = on; }
int crescent_vm_take_refused(lua_State *L) {
    crescent_vm *vm = vm_of(L);
    int r = vm->refused;
    vm->refused = 0;
    return r;
}
void crescent_vm_set_current(lua_State *L, crescent_ctl *ctl) { vm_of(L)->current = ctl; }

crescent_ctl *crescent_ctl_new(double deadline) {
    crescent_ctl *c = malloc(sizeof(crescent_ctl));
    if (!c) abort();
    c->deadline = deadline;
    atomic_init(&c->reason, CRESCENT_ABORT_NONE);
    return c;
}
void crescent_ctl_free(crescent_ctl *ctl) { free(ctl); }
void crescent_ctl_set_deadline(crescent_ctl *ctl, double deadline) { ctl->deadline = deadline; }
void crescent_ctl_request_abort(crescent_ctl *ctl, int reason) {
    int expected = CRESCENT_ABORT_NONE;
    atomic_compare_exchange_strong(&ctl->reason, &expected, reason);
}
int crescent_ctl_reason(crescent_ctl *ctl) { return atomic_load(&ctl->reason); }

double crescent_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *abort_message(int reason) {
    switch (reason) {
    case CRESCENT_ABORT_CANCEL: return "cancelled";
    case CRESCENT_ABORT_MEMORY: return "memory limit exceeded";
    default: return "ttl exceeded";
    }
}

static void crescent_hook(lua_State *L, lua_Debug *ar);

/* Raises the abort of the current attempt in L and makes every later instruction raise
 * it again, so pcall cannot swallow it. */
static int raise_abort(lua_State *L, crescent_vm *vm, int reason) {
    lua_sethook(L, crescent_hook, LUA_MASKCOUNT, 1);
    int saved = vm->enforce;
    vm->enforce = 0;
    lua_pushstring(L, abort_message(reason));
    vm->enforce = saved;
    return lua_error(L);
}

static void crescent_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    crescent_vm *vm = vm_of(L);
    crescent_ctl *c = vm->current;
    if (!c) return;
    int reason = atomic_load(&c->reason);
    if (reason == CRESCENT_ABORT_NONE && crescent_monotonic() >= c->deadline) {
        crescent_ctl_request_abort(c, CRESCENT_ABORT_TTL);
        reason = atomic_load(&c->reason);
    }
    if (reason == CRESCENT_ABORT_NONE) return;
    raise_abort(L, vm, reason);
}

/* After a host call (memory cap not enforced while Swift works): the call's allocations
 * past the cap, and the deadline, end the attempt. Returns the reason, or NONE. */
static int check_after_host(lua_State *L, crescent_vm *vm) {
    crescent_ctl *c = vm->current;
    if (!c) return CRESCENT_ABORT_NONE;
    /* Over the cap: garbage first (the allocator would have collected before refusing). */
    if (vm->used > vm->limit) lua_gc(L, LUA_GCCOLLECT);
    if (vm->used > vm->limit) crescent_ctl_request_abort(c, CRESCENT_ABORT_MEMORY);
    else if (crescent_monotonic() >= c->deadline) crescent_ctl_request_abort(c, CRESCENT_ABORT_TTL);
    return atomic_load(&c->reason);
}

/* host.memcheck(): called by the sandbox's pcall/xpcall/coroutine.resume when they catch
 * "not enough memory". If the allocator refused memory since the attempt last resumed,
 * the memory error ends the attempt, whatever catches it. */
static int crescent_memcheck(lua_State *L) {
    crescent_vm *vm = vm_of(L);
    if (vm->refused && vm->current) {
        crescent_ctl_request_abort(vm->current, CRESCENT_ABORT_MEMORY);
        return raise_abort(L, vm, atomic_load(&vm->current->reason));
    }
    return 0;
}

void crescent_vm_abort_memory(lua_State *L) {
    crescent_vm *vm = vm_of(L);
    if (vm->current) crescent_ctl_request_abort(vm->current, CRESCENT_ABORT_MEMORY);
}

void crescent_push_memcheck(lua_State *L) { lua_pushcfunction(L, crescent_memcheck); }

void crescent_thread_set_tag(lua_State *L, uint64_t tag) {
    memcpy(lua_getextraspace(L), &tag, sizeof tag < LUA_EXTRASPACE ? sizeof tag : LUA_EXTRASPACE);
}

uint64_t crescent_thread_tag(lua_State *L) {
    uint64_t tag = 0;
    memcpy(&tag, lua_getextraspace(L), sizeof tag < LUA_EXTRASPACE ? sizeof tag : LUA_EXTRASPACE);
    return tag;
}

/* ---- Argument checks on library calls that loop in C without the count hook ---- */

/* Calls the original library function (upvalue 1) with the same arguments. */
static int call_original(lua_State *L) {
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

/* At most this many table elements fit in the VM's memory cap (16 bytes a slot). */
static lua_Unsigned max_elements(lua_State *L) { return (lua_Unsigned)(vm_of(L)->limit / 16); }

static int guard_rep(lua_State *L) {
    size_t l, lsep;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n > 0) {
        if (l + lsep == 0) {
            lua_pushliteral(L, "");
            return 1;
        }
        size_t cap = vm_of(L)->limit;
        if ((lua_Unsigned)n > cap / (l + lsep)) {
            return luaL_error(L, "string.rep: the result would be about %f bytes, more than the memory limit of %I bytes",
                              (double)n * (double)(l + lsep), (lua_Integer)cap);
        }
    }
    return call_original(L);
}

static int guard_move(lua_State *L) {
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    luaL_checkinteger(L, 4);
    if (e >= f) {
        lua_Unsigned count = (lua_Unsigned)e - (lua_Unsigned)f + 1;
        if (count == 0 || count > max_elements(L)) {
            return luaL_error(L, "table.move: %I..%I is more elements than the memory limit can hold", f, e);
        }
    }
    return call_original(L);
}

/* table.insert(t, pos, v) and table.remove(t, pos) shift every element up to #t. */
static int guard_shift(lua_State *L, const char *what) {
    if (lua_type(L, 1) != LUA_TTABLE) return call_original(L);
    lua_Integer n = luaL_len(L, 1);
    if (n > 0 && (lua_Unsigned)n > max_elements(L)) {
        return luaL_error(L, "%s: a length of %I is more elements than the memory limit can hold", what, n);
    }
    return call_original(L);
}
static int guard_insert(lua_State *L) {
    if (lua_gettop(L) < 3) return call_original(L);
    return guard_shift(L, "table.insert");
}
static int guard_remove(lua_State *L) { return guard_shift(L, "table.remove"); }

static int guard_concat(lua_State *L) {
    if (lua_type(L, 1) != LUA_TTABLE) return call_original(L);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    lua_Integer j = lua_isnoneornil(L, 4) ? luaL_len(L, 1) : luaL_checkinteger(L, 4);
    if (j >= i) {
        lua_Unsigned count = (lua_Unsigned)j - (lua_Unsigned)i + 1;
        if (count == 0 || count > max_elements(L)) {
            return luaL_error(L, "table.concat: %I..%I is more elements than the memory limit can hold", i, j);
        }
    }
    return call_original(L);
}

static void guard(lua_State *L, const char *lib, const char *name, lua_CFunction fn) {
    lua_getglobal(L, lib);
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void crescent_arm_hook(lua_State *co) { lua_sethook(co, crescent_hook, LUA_MASKCOUNT, 1000); }

static int open_libs(lua_State *L) {
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 1);
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 1);
    lua_settop(L, 0);
    /* In the library tables themselves: strings' methods reach them through the string
     * metatable, and every task's copies are taken from them. */
    guard(L, LUA_STRLIBNAME, "rep", guard_rep);
    guard(L, LUA_TABLIBNAME, "move", guard_move);
    guard(L, LUA_TABLIBNAME, "insert", guard_insert);
    guard(L, LUA_TABLIBNAME, "remove", guard_remove);
    guard(L, LUA_TABLIBNAME, "concat", guard_concat);
    return 0;
}

int crescent_open_libs(lua_State *L) {
    lua_pushcfunction(L, open_libs);
    return lua_pcall(L, 0, 0, 0);
}

void crescent_set_dispatch(crescent_dispatch_fn fn) { crescent_dispatch = fn; }

/* Prefixes a string error with the position of the nearest task-file frame. */
static void add_where(lua_State *L) {
    if (lua_type(L, -1) != LUA_TSTRING) return;
    lua_Debug ar;
    for (int level = 1; level < 50 && lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar)) break;
        if (ar.source && ar.source[0] == '@' && ar.currentline > 0) {
            lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
            lua_insert(L, -2);
            lua_concat(L, 2);
            return;
        }
    }
}

static int crescent_continue(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    int base = (int)ctx;
    int top = lua_gettop(L);
    if (top <= base) return 0;
    if (!lua_toboolean(L, base + 1)) {
        lua_settop(L, base + 2);
        add_where(L);
        return lua_error(L);
    }
    return top - base - 1;
}

static int crescent_trampoline(lua_State *L) {
    int fn = (int)lua_tointeger(L, lua_upvalueindex(1));
    crescent_vm *vm = vm_of(L);
    int saved = vm->enforce;
    vm->enforce = 0;
    int r = crescent_dispatch(L, fn);
    if (r == CRESCENT_RAISE) add_where(L);
    vm->enforce = saved;
    int reason = check_after_host(L, vm);
    if (reason != CRESCENT_ABORT_NONE) return raise_abort(L, vm, reason);
    if (r >= 0) return r;
    if (r == CRESCENT_YIELD) {
        int base = lua_gettop(L);
        return lua_yieldk(L, 0, (lua_KContext)base, crescent_continue);
    }
    return lua_error(L);
}

void crescent_push_host(lua_State *L, int fn) {
    lua_pushinteger(L, fn);
    lua_pushcclosure(L, crescent_trampoline, 1);
}

void crescent_push_null(lua_State *L) { lua_pushlightuserdata(L, &crescent_null_sentinel); }
int crescent_is_null(lua_State *L, int idx) {
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == &crescent_null_sentinel;
}

static int traceback_p(lua_State *L) {
    lua_State *co = (lua_State *)lua_touserdata(L, 1);
    const char *msg = lua_tostring(L, 2);
    luaL_traceback(L, co, msg, 0);
    return 1;
}

void crescent_traceback(lua_State *L, lua_State *co, const char *msg) {
    lua_pushcfunction(L, traceback_p);
    lua_pushlightuserdata(L, co);
    lua_pushstring(L, msg);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        lua_pushstring(L, msg);
    }
}

int crescent_gc_collect(lua_State *L) {
    lua_gc(L, LUA_GCCOLLECT);
    return lua_gc(L, LUA_GCCOUNT);
}

int crescent_load(lua_State *L, const char *buf, size_t len, const char *chunkname) {
    return luaL_loadbufferx(L, buf, len, chunkname, "t");
}
