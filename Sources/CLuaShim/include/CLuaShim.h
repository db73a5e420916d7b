#ifndef CRESCENT_LUA_SHIM_H
#define CRESCENT_LUA_SHIM_H
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#endif
