import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // SwiftShader runs shaders on the CPU with its own threads: two test files at a time on 2 cores.
    maxWorkers: 2,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    env: { VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json' },
  },
});
