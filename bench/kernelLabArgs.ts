// The command line of the kernel lab (bench/kernelLab.ts): its flags and their defaults.
import type { DType } from '../src/gpu/tensor.js';

export interface Args {
  quick: boolean;
  out?: string;
  iters: number;
  dtypes: DType[];
  /** GEMV variants at T = 1: auto, generic (the chunk GEMV), rN (pairs GEMV with N rows per lane group), lN (generic with N lanes). */
  variants: string[];
  /** N x K shapes instead of the (--shapes 4096x4096,14336x4096). */
  shapes?: [number, number][];
  /** Also time the decode chain norm -> GEMV with and without x in planes (--chain). */
  chain: boolean;
  prefill: boolean;
  /** Leave timestamp-query off: wall-clock timing only (the fallback of adapters without it). */
  noTimestamps: boolean;
  /** Prefill GEMMs instead of decode GEMVs (--gemm). */
  gemm: boolean;
  /** With --gemm: the MoE experts' grouped GEMMs (--moe). */
  moe: boolean;
  /** Tokens of the prefill GEMMs (--ts 512,4096). */
  ts?: number[];
  /** Whether --variants was given (the GEMM mode has its own default). */
  variantsGiven: boolean;
}

export function parseArgs(argv: string[]): Args {
  const a: Args = {
    quick: false,
    iters: 200,
    dtypes: ['q4_0', 'q8_0', 'q4_k'],
    variants: ['auto'],
    prefill: false,
    noTimestamps: false,
    chain: false,
    gemm: false,
    moe: false,
    variantsGiven: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const v = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return next;
    };
    switch (argv[i]) {
      case '--quick':
        a.quick = true;
        break;
      case '--out':
        a.out = v();
        break;
      case '--iters':
        a.iters = Number(v());
        break;
      case '--dtypes':
        a.dtypes = v().split(',') as DType[];
        break;
      case '--lanes':
        a.variants = v()
          .split(',')
          .map((n) => (n === '0' ? 'auto' : `l${n}`));
        break;
      case '--variants':
        a.variants = v().split(',');
        a.variantsGiven = true;
        break;
      case '--gemm':
        a.gemm = true;
        break;
      case '--moe':
        a.moe = true;
        break;
      case '--ts':
        a.ts = v().split(',').map(Number);
        break;
      case '--shapes':
        a.shapes = v()
          .split(',')
          .map((nk) => nk.split('x').map(Number) as [number, number]);
        break;
      case '--chain':
        a.chain = true;
        break;
      case '--prefill':
        a.prefill = true;
        break;
      case '--no-timestamps':
        a.noTimestamps = true;
        break;
      default:
        throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (a.quick) a.iters = Math.min(a.iters, 3);
  return a;
}
