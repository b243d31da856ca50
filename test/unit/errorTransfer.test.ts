import { expose, wrap } from 'comlink';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { AbortError, GpuOutOfMemoryError, ModelNotFoundError, StorageQuotaError, UnsupportedModelError } from '../../src/errors.js';
import { deserializeError, installErrorTransfer, serializeError } from '../../src/worker/errorTransfer.js';

describe('errors across a comlink boundary', () => {
  it('serializes and rebuilds class, message, stack, code and fields', () => {
    const e = new StorageQuotaError('full', 100, 40, { cause: new TypeError('inner') });
    const back = deserializeError(JSON.parse(JSON.stringify(serializeError(e))));
    expect(back).toBeInstanceOf(StorageQuotaError);
    expect(back.message).toBe('full');
    expect(back.stack).toBe(e.stack);
    expect((back as StorageQuotaError).code).toBe('STORAGE_QUOTA');
    expect((back as StorageQuotaError).needed).toBe(100);
    expect((back as StorageQuotaError).available).toBe(40);
    expect(back.cause).toBeInstanceOf(TypeError);
  });

  it('keeps the class of errors thrown by an exposed object over a real MessageChannel', async () => {
    installErrorTransfer();
    const { port1, port2 } = new MessageChannel();
    const thrower = {
      fail(kind: string) {
        if (kind === 'oom') throw new GpuOutOfMemoryError('weights: 3 GB do not fit');
        if (kind === '404') throw new ModelNotFoundError('no such repo');
        if (kind === 'arch') throw new UnsupportedModelError('model_type foo');
        throw new AbortError('aborted');
      },
    };
    expose(thrower, port1 as unknown as Parameters<typeof expose>[1]);
    const remote = wrap<typeof thrower>(port2 as unknown as Parameters<typeof wrap>[0]);
    const classes = { oom: GpuOutOfMemoryError, '404': ModelNotFoundError, arch: UnsupportedModelError, abort: AbortError };
    for (const [kind, cls] of Object.entries(classes)) {
      const err = await (remote.fail(kind) as Promise<unknown>).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(cls);
      expect(err!.name).toBe(cls.name);
      expect(err!.stack).toContain('fail');
    }
    port1.close();
    port2.close();
  });
});
