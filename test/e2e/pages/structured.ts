// Starts a fresh module worker per call (its CSP comes from the worker script's response) and returns what
// it constrained, or its error.
(window as unknown as { runGrammar: (schema: unknown) => Promise<unknown> }).runGrammar = (schema) =>
  new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./structuredWorker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (e) => {
      worker.terminate();
      if (e.data.error) reject(new Error(e.data.error));
      else resolve(e.data);
    };
    worker.postMessage(schema);
  });
