import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';

/** llama.cpp through node-llama-cpp's prebuilt CPU binary, quiet: the reference engine of the GGUF tests. */
export function cpuLlama(): Promise<Llama> {
  return getLlama({
    gpu: false,
    build: 'never',
    usePrebuiltBinaries: true,
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
    logger: () => {},
  });
}
