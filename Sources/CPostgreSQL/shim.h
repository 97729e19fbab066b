#ifndef CPOSTGRESQL_SHIM_H
#define CPOSTGRESQL_SHIM_H
// libpq, the PostgreSQL client library (Debian: libpq-dev). Only the head-end links it.
#include <libpq-fe.h>
#endif
