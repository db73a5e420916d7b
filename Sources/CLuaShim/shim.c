#include "CLuaShim.h"
#include <stdatomic.h>
#include <stdlib.h>
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
    /* Past the deadline: every instruction raises, so pcall cannot swallow it. */
    lua_sethook(L, crescent_hook, LUA_MASKCOUNT, 1);
    vm->enforce = 0;
    lua_pushstring(L, reason == CRESCENT_ABORT_CANCEL ? "cancelled" : "ttl exceeded");
    vm->enforce = 1;
    lua_error(L);
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
