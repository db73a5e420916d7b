#include "CSQLiteShim.h"
#include <sqlite3.h>

int crescent_sqlite_configure(int lookaside_slot_size, int lookaside_slots) {
    int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (rc != SQLITE_OK) return rc;
    return sqlite3_config(SQLITE_CONFIG_LOOKASIDE, lookaside_slot_size, lookaside_slots);
}
