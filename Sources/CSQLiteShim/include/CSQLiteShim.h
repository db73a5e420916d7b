#ifndef CSQLITESHIM_H
#define CSQLITESHIM_H

/// Process-wide SQLite settings that Swift cannot pass itself (`sqlite3_config` is
/// variadic). Must run before SQLite initialises, i.e. before the first connection
/// opens; afterwards it changes nothing and returns SQLite's error code.
///
/// - No memory statistics: every allocation otherwise takes a global mutex.
///   (No lookaside to size: Debian's SQLite is built without one, SQLITE_OMIT_LOOKASIDE.)
int crescent_sqlite_configure(void);

#endif
