// Conversations kept across reloads in IndexedDB (idb-keyval, database `weblm-chat`): a list to switch
// between, rename and delete. The open one's id is remembered in localStorage.
import { createStore, del, entries, get, set, type UseStore } from 'idb-keyval';

export interface StoredMessage {
  readonly role: 'user' | 'assistant';
  readonly content: string;
  /** An assistant's thinking (reasoning_content), shown collapsed, never sent back to the model. */
  readonly reasoning?: string;
  /** The stats line under an assistant reply. */
  readonly stats?: string;
  /** A reply constrained to JSON (the JSON mode setting): shown as a code block. */
  readonly format?: 'json';
  /** An assistant reply that failed: the error shown in place of an answer (not sent back). */
  readonly error?: string;
}

export interface Conversation {
  readonly id: string;
  title: string;
  readonly created: number;
  updated: number;
  /** The model it was held with (shown in the list). */
  model?: string;
  messages: StoredMessage[];
}

const CURRENT = 'weblm-chat-current';

export class ConversationStore {
  private readonly store: UseStore;

  constructor(dbName = 'weblm-chat') {
    this.store = createStore(dbName, 'conversations');
  }

  async list(): Promise<Conversation[]> {
    const all = (await entries<string, Conversation>(this.store)).map(([, c]) => c);
    return all.sort((a, b) => b.updated - a.updated);
  }

  get(id: string): Promise<Conversation | undefined> {
    return get<Conversation>(id, this.store);
  }

  async save(c: Conversation): Promise<void> {
    c.updated = Date.now();
    await set(c.id, c, this.store);
  }

  async delete(id: string): Promise<void> {
    await del(id, this.store);
    if (this.currentId === id) this.currentId = undefined;
  }

  create(model?: string): Conversation {
    const now = Date.now();
    return { id: `c${now.toString(36)}${Math.random().toString(36).slice(2, 6)}`, title: 'New chat', created: now, updated: now, model, messages: [] };
  }

  get currentId(): string | undefined {
    return localStorage.getItem(CURRENT) ?? undefined;
  }

  set currentId(id: string | undefined) {
    if (id) localStorage.setItem(CURRENT, id);
    else localStorage.removeItem(CURRENT);
  }
}

/** A title from the first user message: its first line, at most 48 characters. */
export function titleFrom(text: string): string {
  const line = text.trim().split('\n')[0]!.trim();
  return line.length > 48 ? `${line.slice(0, 47)}…` : line || 'New chat';
}
