// The engine's peer table (peer-table.c): immutable once built.
#ifndef TWILL_PEER_TABLE_H
#define TWILL_PEER_TABLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct peer_table;

/** Builds a table from `n` entries of PEER_ENTRY_SIZE bytes; NULL when out of memory. */
struct peer_table *table_build(const uint8_t *entries, size_t n);
void table_free(struct peer_table *t);
/** The public IP (network order) for a VtepMAC, 0 when no peer has it. */
uint32_t table_ip_for_mac(const struct peer_table *t, const uint8_t *mac);
/** True when some lease carries this public IP (network order). */
bool table_has_ip(const struct peer_table *t, uint32_t ip);

#endif
