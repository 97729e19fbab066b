#ifndef CMODBUS_SHIM_H
#define CMODBUS_SHIM_H
#include <modbus.h>
#include <errno.h>

// libmodbus reports its own error numbers through errno; Swift cannot read errno portably from
// every context, so the shim gives it a function.
static inline int cmodbus_errno(void) { return errno; }
static inline void cmodbus_clear_errno(void) { errno = 0; }
// Error numbers above MODBUS_ENOBASE (macros in modbus.h, not imported by Swift).
static inline int cmodbus_enobase(void) { return MODBUS_ENOBASE; }
static inline int cmodbus_embbadcrc(void) { return EMBBADCRC; }
static inline int cmodbus_embbaddata(void) { return EMBBADDATA; }
static inline int cmodbus_embbadexc(void) { return EMBBADEXC; }
static inline int cmodbus_embmdata(void) { return EMBMDATA; }
static inline int cmodbus_embbadslave(void) { return EMBBADSLAVE; }
#endif
