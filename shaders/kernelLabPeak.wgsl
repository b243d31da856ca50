// Arithmetic peaks for bench/kernelLab.ts --gemm, the ceilings the prefill GEMMs are compared with:
// entry `fma` (FMA): f32 fma, 8 independent chains per thread (2 flops each);
// entry `dot4` (DOT4): dot4I8Packed + i32 add, 8 independent chains per thread, each step's first
// operand the chain's previous value (so the compiler can hoist nothing; 8 int8 ops each).
// Each thread runs `steps` rounds of 4 steps per chain and writes one value, so nothing is dead code.

struct Params {
  steps: u32, // rounds of 4 dependent steps per chain
  seed: u32,  // a runtime value for the operands
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> sink: array<u32>; // [threads launched] one value per thread

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
#if FMA
  let a = 1.0 + f32(p.seed) * 1e-9;
  let b = f32(i & 7u) * 1e-7;
  var c = array<f32, 8>(f32(i), 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
  for (var s = 0u; s < p.steps; s++) {
    for (var r = 0u; r < 4u; r++) {
      c[0] = fma(c[0], a, b); c[1] = fma(c[1], a, b); c[2] = fma(c[2], a, b); c[3] = fma(c[3], a, b);
      c[4] = fma(c[4], a, b); c[5] = fma(c[5], a, b); c[6] = fma(c[6], a, b); c[7] = fma(c[7], a, b);
    }
  }
  sink[i] = bitcast<u32>(c[0] + c[1] + c[2] + c[3] + c[4] + c[5] + c[6] + c[7]);
#elif DOT4
  let b = p.seed * 0x01010101u + i;
  var c = array<i32, 8>(i32(i), 1, 2, 3, 4, 5, 6, 7);
  for (var s = 0u; s < p.steps; s++) {
    for (var r = 0u; r < 4u; r++) {
      c[0] += dot4I8Packed(bitcast<u32>(c[0]), b); c[1] += dot4I8Packed(bitcast<u32>(c[1]), b);
      c[2] += dot4I8Packed(bitcast<u32>(c[2]), b); c[3] += dot4I8Packed(bitcast<u32>(c[3]), b);
      c[4] += dot4I8Packed(bitcast<u32>(c[4]), b); c[5] += dot4I8Packed(bitcast<u32>(c[5]), b);
      c[6] += dot4I8Packed(bitcast<u32>(c[6]), b); c[7] += dot4I8Packed(bitcast<u32>(c[7]), b);
    }
  }
  sink[i] = bitcast<u32>(c[0] + c[1] + c[2] + c[3] + c[4] + c[5] + c[6] + c[7]);
#endif
}
