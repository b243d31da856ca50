// The work list of the MoE integer-dot grouped GEMMs (src/kernels/moeGemmInt8.ts, WORKLIST): from moeBucket's
// counts, one item (expert e, row tile j) for each j < ceil(counts[e] / BM), in expert order, and the indirect
// grids of the two GEMMs: (gate|up column tiles, items, 1) and (down column tiles, items, 1). Empty experts
// get no item. One workgroup of 256 threads; thread l takes experts l * per .. l * per + per - 1.

struct Params {
  E: u32,       // experts
  BM: u32,      // rows per tile
  cols_gu: u32, // gate|up column tiles
  cols_dn: u32, // down column tiles
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> counts: array<u32>;          // [E] u32
@group(0) @binding(2) var<storage, read_write> work: array<u32>;      // [2 * items] u32: (e, j) per item
@group(0) @binding(3) var<storage, read_write> grids: array<u32>;     // [6] u32: two indirect grids

var<workgroup> scan: array<u32, 256>;

@compute @workgroup_size(256)
fn tiles(@builtin(local_invocation_index) l: u32) {
  let per = (p.E + 255u) / 256u;
  var n = 0u;
  for (var e = l * per; e < min(l * per + per, p.E); e++) {
    n += (counts[e] + p.BM - 1u) / p.BM;
  }
  scan[l] = n;
  workgroupBarrier();
  for (var s = 1u; s < 256u; s <<= 1u) {
    var v = 0u;
    if (l >= s) {
      v = scan[l - s];
    }
    workgroupBarrier();
    scan[l] += v;
    workgroupBarrier();
  }
  // Item i: work[2 i] = e, work[2 i + 1] = j.
  var at = scan[l] - n;
  for (var e = l * per; e < min(l * per + per, p.E); e++) {
    let c = (counts[e] + p.BM - 1u) / p.BM;
    for (var j = 0u; j < c; j++) {
      work[2u * at] = e;
      work[2u * at + 1u] = j;
      at++;
    }
  }
  if (l == 255u) {
    let total = scan[255];
    grids[0] = p.cols_gu;
    grids[1] = total;
    grids[2] = 1u;
    grids[3] = p.cols_dn;
    grids[4] = total;
    grids[5] = 1u;
  }
}
