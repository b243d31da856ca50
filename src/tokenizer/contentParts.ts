import type { ImageSource } from '../image/source.js';

export type { ImageSource };

/** OpenAI chat content parts (and weblm's `image` part for an image object the page already holds). */
export interface TextPart {
  readonly type: 'text';
  readonly text: string;
}

/** An image by URL: a data URL (`data:image/png;base64,...`) or an http(s) URL (fetched by the engine). */
export interface ImageUrlPart {
  readonly type: 'image_url';
  readonly image_url: { readonly url: string; readonly detail?: string };
}

export interface ImagePart {
  readonly type: 'image';
  readonly image: ImageSource;
}

export type ContentPart = TextPart | ImageUrlPart | ImagePart;

/** What a content part's image is: a URL string or an object. */
export function imageOfPart(p: ContentPart): ImageSource | string | undefined {
  if (p.type === 'image_url') return p.image_url?.url;
  if (p.type === 'image') return p.image;
  return undefined;
}
