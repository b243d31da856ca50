import { PNG } from 'pngjs';

/** A w x h test photo as PNG bytes: colour gradients with a red box and a green disc (random weights see any pixels alike). */
export function testPhotoPng(w: number, h: number): Uint8Array {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      const inBox = x > w / 8 && x < w / 2 && y > h / 6 && y < (h * 2) / 3;
      const inDisc = (x - (w * 3) / 4) ** 2 + (y - h / 2) ** 2 < (h / 4) ** 2;
      png.data[i] = inBox ? 220 : Math.round((255 * x) / w);
      png.data[i + 1] = inDisc ? 200 : Math.round((255 * y) / h);
      png.data[i + 2] = inBox || inDisc ? 40 : 160;
      png.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

/** "WxH" → [w, h]. */
export function photoSize(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new Error(`--size ${s}: give WxH, e.g. 640x480`);
  return [Number(m[1]), Number(m[2])];
}
