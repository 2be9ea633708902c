// The userspace VXLAN engine's peer table: VtepMAC -> public IPv4 (what the kernel VXLAN
// device keeps in its FDB) and the set of public IPs that hold a lease (who may send to us).
// Open addressing, built once per swap from JavaScript's list and never changed after, so the
// engine threads read it without locks.
#include <stdlib.h>
#include <string.h>
#include "peer-table.h"
#include "vxlan-engine.h"

struct peer_table {
  uint32_t mac_mask, ip_mask;
  struct mac_slot {
    uint64_t mac; /* 0 = empty */
    uint32_t ip;  /* network order */
  } *by_mac;
  uint32_t *ips; /* 0 = empty */
};

static uint64_t mac_key(const uint8_t *m) {
  uint64_t k = 0;
  memcpy(&k, m, 6);
  return k;
}

static uint32_t hash64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return (uint32_t)k;
}

struct peer_table *table_build(const uint8_t *entries, size_t n) {
  uint32_t size = 16;
  while (size < 2 * n) size <<= 1;
  struct peer_table *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->mac_mask = t->ip_mask = size - 1;
  t->by_mac = calloc(size, sizeof *t->by_mac);
  t->ips = calloc(size, sizeof *t->ips);
  if (!t->by_mac || !t->ips) {
    free(t->by_mac);
    free(t->ips);
    free(t);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    const uint8_t *en = entries + i * PEER_ENTRY_SIZE;
    uint64_t k = mac_key(en);
    uint32_t ip;
    memcpy(&ip, en + 8, 4);
    if (!k || !ip) continue;
    for (uint32_t h = hash64(k) & t->mac_mask;; h = (h + 1) & t->mac_mask) {
      if (!t->by_mac[h].mac || t->by_mac[h].mac == k) {
        t->by_mac[h].mac = k;
        t->by_mac[h].ip = ip;
        break;
      }
    }
    for (uint32_t h = hash64(ip) & t->ip_mask;; h = (h + 1) & t->ip_mask) {
      if (!t->ips[h] || t->ips[h] == ip) {
        t->ips[h] = ip;
        break;
      }
    }
  }
  return t;
}

void table_free(struct peer_table *t) {
  if (!t) return;
  free(t->by_mac);
  free(t->ips);
  free(t);
}

uint32_t table_ip_for_mac(const struct peer_table *t, const uint8_t *mac) {
  uint64_t k = mac_key(mac);
  for (uint32_t h = hash64(k) & t->mac_mask;; h = (h + 1) & t->mac_mask) {
    if (t->by_mac[h].mac == k) return t->by_mac[h].ip;
    if (!t->by_mac[h].mac) return 0;
  }
}

bool table_has_ip(const struct peer_table *t, uint32_t ip) {
  for (uint32_t h = hash64(ip) & t->ip_mask;; h = (h + 1) & t->ip_mask) {
    if (t->ips[h] == ip) return true;
    if (!t->ips[h]) return false;
  }
}
