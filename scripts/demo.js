// `npm run demo`: serves the offline chat demo (examples/chat/) on http://127.0.0.1:5173 with vite.
import { createServer } from 'vite';

const port = Number(process.env.PORT ?? 5173);
const server = await createServer({ configFile: 'vite.config.ts', server: { port, open: false } });
await server.listen();
const addr = server.httpServer.address();
console.log(`weblm chat demo: http://127.0.0.1:${addr.port}/examples/chat/  (Ctrl+C to stop)`);
