import type { GGUFTypedValue, GGUFValue } from './ggufFormat.js';
import type { RawConfig } from './source.js';

/**
 * How one Hugging Face architecture sits in llama.cpp's GGUF, beyond what every architecture shares (the
 * hyperparameter table of ggufConfig.ts, the tensor names of ggufNames.ts). A model family gives it
 * (src/models: Family.gguf); the reader, the converter and the weight source here only follow it.
 */
export interface GGUFLayout {
  /** general.architecture */
  readonly arch: string;
  /**
   * Which files of `arch` read back as this family: all (the default), those without or with experts (llama
   * and mixtral share `llama`), or none (mistral writes `llama` files, read back as llama).
   */
  readonly reads?: 'all' | 'dense' | 'experts' | 'none';
  /** convert_hf_to_gguf permutes q/k rows (rope pairs (i, i+d/2) → (2i, 2i+1)), as for llama. */
  readonly permutedQk?: boolean;
  /** attention.sliding_window is written without use_sliding_window (mistral: every layer slides). */
  readonly slidingWindowAlways?: boolean;
  /** config.json key the expert count is read into (default num_experts). */
  readonly expertCountKey?: string;
  /** HF module of the routed experts (default `mlp`; mixtral's `block_sparse_moe`). */
  readonly moeBlock?: string;
  /** HF module of the shared expert(s) (default `mlp.shared_expert`). */
  readonly sharedExperts?: string;
  /** config.json values a GGUF file leaves implicit (llama.cpp's defaults for this architecture). */
  readonly defaults?: Readonly<Record<string, unknown>>;
  /**
   * Multi-head latent attention: kv_b_proj stored as llama.cpp's attn_k_b / attn_v_b, and the head sizes in
   * the layout's own hyperparameters (`write` / `read`) instead of key_length and rope.dimension_count.
   */
  readonly mla?: boolean;
  /** Hyperparameters under `{arch}.` beyond the shared table, written by the converter. */
  write?(raw: RawConfig): [string, GGUFTypedValue][];
  /** config.json fields from the metadata beyond the shared table (`raw`: what the shared table gave). */
  read?(md: ReadonlyMap<string, GGUFValue>, raw: Readonly<Record<string, unknown>>, where: string): Record<string, unknown>;
}
