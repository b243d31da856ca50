// The index of the calling subgroup in its workgroup (0 .. subgroups - 1), uniform within the subgroup: its
// first lane takes it from a counter, so nothing is assumed about how invocations form subgroups (and no
// subgroup_id builtin is needed). Call once, in workgroup-uniform control flow.
var<workgroup> subgroup_slots: atomic<u32>;

fn subgroup_slot() -> u32 {
  var s = 0u;
  if (subgroupElect()) {
    s = atomicAdd(&subgroup_slots, 1u);
  }
  return subgroupBroadcastFirst(s);
}
