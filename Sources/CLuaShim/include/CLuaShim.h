#ifndef CRESCENT_LUA_SHIM_H
#define CRESCENT_LUA_SHIM_H
/*
 * Crescent's C side of the Lua bridge.
 *
 * Everything that may longjmp (raising an error, yielding, the count hook) happens
 * here, in C: Swift host functions do their work and return a status, and the
 * trampoline below raises or yields for them. Lua's function-like macros get
 * inline wrappers so Swift can call them.
 */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Status codes a Swift host function returns to the trampoline ---- */
#define CRESCENT_RAISE (-1)   /* raise the value on top of the stack */
#define CRESCENT_YIELD (-2)   /* yield the coroutine; resumed with (ok, values...) */

/* ---- Abort reasons of an attempt (see crescent_ctl_request_abort) ---- */
#define CRESCENT_ABORT_NONE 0
#define CRESCENT_ABORT_TTL 1
#define CRESCENT_ABORT_CANCEL 2
#define CRESCENT_ABORT_MEMORY 3

/* Per-attempt control block: a deadline checked by the count hook, and an abort flag
 * any thread may set. */
typedef struct crescent_ctl crescent_ctl;

/* A new Lua state whose allocator counts bytes and refuses growth beyond `limit`
 * while enforcement is on. `owner` is handed back by crescent_vm_owner. */
lua_State *crescent_vm_new(size_t limit, void *owner);
void crescent_vm_close(lua_State *L);
void *crescent_vm_owner(lua_State *L);
void crescent_vm_set_owner(lua_State *L, void *owner);
size_t crescent_vm_used(lua_State *L);
void crescent_vm_set_limit(lua_State *L, size_t limit);
/* Enforce the memory cap (on while Lua code runs, off while Swift works). */
void crescent_vm_set_enforce(lua_State *L, int on);
/* 1 if an allocation was refused since the last call; clears the flag. */
int crescent_vm_take_refused(lua_State *L);
/* The attempt whose coroutine is running now (the count hook checks its deadline). */
void crescent_vm_set_current(lua_State *L, crescent_ctl *ctl);

crescent_ctl *crescent_ctl_new(double deadline);
void crescent_ctl_free(crescent_ctl *ctl);
void crescent_ctl_set_deadline(crescent_ctl *ctl, double deadline);
/* Thread-safe: the next hook tick raises in the attempt. First reason wins. */
void crescent_ctl_request_abort(crescent_ctl *ctl, int reason);
int crescent_ctl_reason(crescent_ctl *ctl);

/* Monotonic seconds. */
double crescent_monotonic(void);

/* Installs the count hook on a coroutine (every 1000 instructions). */
void crescent_arm_hook(lua_State *co);

/* A host call went over the memory cap: the running attempt ends with "memory limit exceeded". */
void crescent_vm_abort_memory(lua_State *L);

/* host.memcheck for the sandbox's pcall, xpcall and coroutine.resume (see shim.c). */
void crescent_push_memcheck(lua_State *L);

/* A thread's tag (in its extra space): the serial of the attempt that created it. A new
 * coroutine copies the main thread's tag, so the main thread carries the running
 * attempt's serial while it runs. 0: none. */
void crescent_thread_set_tag(lua_State *L, uint64_t tag);
uint64_t crescent_thread_tag(lua_State *L);

/* Opens base, string, table, math, utf8, coroutine and os in protected mode, with
 * argument checks on string.rep, table.move/insert/remove/concat (bounded by the cap). */
int crescent_open_libs(lua_State *L);

/* Swift's dispatcher for host functions: returns a result count, CRESCENT_RAISE or
 * CRESCENT_YIELD. Never raises itself. */
typedef int (*crescent_dispatch_fn)(lua_State *L, int fn);
void crescent_set_dispatch(crescent_dispatch_fn fn);
/* Pushes host function number `fn` as a C closure. */
void crescent_push_host(lua_State *L, int fn);

/* json.null: a light userdata sentinel. */
void crescent_push_null(lua_State *L);
int crescent_is_null(lua_State *L, int idx);

/* luaL_traceback in protected mode; pushes the traceback (or msg) on L. */
void crescent_traceback(lua_State *L, lua_State *co, const char *msg);

/* Full garbage collection; returns KB in use afterwards. */
int crescent_gc_collect(lua_State *L);

/* Loads a text chunk (never binary). */
int crescent_load(lua_State *L, const char *buf, size_t len, const char *chunkname);

/* ---- Wrappers for macros ---- */
static inline int crescent_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline int crescent_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline void crescent_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void crescent_newtable(lua_State *L) { lua_newtable(L); }
static inline void crescent_remove(lua_State *L, int idx) { lua_remove(L, idx); }
static inline void crescent_insert(lua_State *L, int idx) { lua_insert(L, idx); }
static inline int crescent_pcall(lua_State *L, int nargs, int nresults, int msgh) {
    return lua_pcall(L, nargs, nresults, msgh);
}
static inline lua_Integer crescent_tointeger(lua_State *L, int idx, int *isnum) {
    return lua_tointegerx(L, idx, isnum);
}
static inline lua_Number crescent_tonumber(lua_State *L, int idx, int *isnum) {
    return lua_tonumberx(L, idx, isnum);
}

#endif
