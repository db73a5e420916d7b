#ifndef CSQLITESHIM_H
#define CSQLITESHIM_H

/// Process-wide SQLite settings that Swift cannot pass itself (`sqlite3_config` is
/// variadic). Must run before SQLite initialises, i.e. before the first connection
/// opens; afterwards it changes nothing and returns SQLite's error code.
///
/// - No memory statistics: every allocation otherwise takes a global mutex.
/// - A larger lookaside (per-connection small-allocation pool) for new connections:
///   the default one runs out inside a batch of job statements and falls back to malloc.
int crescent_sqlite_configure(int lookaside_slot_size, int lookaside_slots);

#endif
