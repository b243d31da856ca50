import type { Server } from 'node:http';

/** One `bytes=` range against a file of `size` bytes: [start, end] inclusive, 'bad', or undefined (no Range). */
export function parseRange(header: string | undefined, size: number): [number, number] | 'bad' | undefined;

/** Serves `root` on 127.0.0.1 (Range requests, index.html for folders); the URL ends in '/'. */
export function serveStatic(opts: { root: string; port?: number; host?: string }): Promise<{ server: Server; url: string; close(): Promise<void> }>;
