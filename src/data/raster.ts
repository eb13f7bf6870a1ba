// A tiny anti-aliased polyline rasteriser for the built-in characters. Written by hand rather than
// rendering SVG with sharp because ClassPool.image() is synchronous (lazy per-class rendering needs a
// synchronous renderer) and because at 28x28 a distance test per pixel costs ~0.1 ms per drawing,
// against ~3 ms per sharp call on this machine.

/** Points in pixel coordinates (x right, y down), as flat [x0, y0, x1, y1, ...] per stroke. */
export type Stroke = Float64Array;

/**
 * Rasterise strokes of width `width` (pixels) into a size x size uint8 image, bright on dark. A pixel's
 * value ramps from 1 to 0 over one pixel across the stroke's edge (coverage of a box filter, roughly).
 */
export function rasterise(strokes: readonly Stroke[], width: number, size: number): Uint8Array {
  const out = new Uint8Array(size * size);
  const half = width / 2;
  const reach = half + 0.5;
  for (const stroke of strokes) {
    const n = stroke.length / 2;
    for (let k = 0; k < Math.max(1, n - 1); k++) {
      const ax = stroke[2 * k];
      const ay = stroke[2 * k + 1];
      const bx = n > 1 ? stroke[2 * k + 2] : ax;
      const by = n > 1 ? stroke[2 * k + 3] : ay;
      const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - reach));
      const x1 = Math.min(size - 1, Math.ceil(Math.max(ax, bx) + reach));
      const y0 = Math.max(0, Math.floor(Math.min(ay, by) - reach));
      const y1 = Math.min(size - 1, Math.ceil(Math.max(ay, by) + reach));
      const dx = bx - ax;
      const dy = by - ay;
      const len2 = dx * dx + dy * dy;
      for (let y = y0; y <= y1; y++) {
        const py = y + 0.5;
        for (let x = x0; x <= x1; x++) {
          const px = x + 0.5;
          const t = len2 > 0 ? Math.min(1, Math.max(0, ((px - ax) * dx + (py - ay) * dy) / len2)) : 0;
          const ex = px - (ax + t * dx);
          const ey = py - (ay + t * dy);
          const v = Math.min(1, Math.max(0, reach - Math.sqrt(ex * ex + ey * ey)));
          const b = Math.round(v * 255);
          if (b > out[y * size + x]) out[y * size + x] = b;
        }
      }
    }
  }
  return out;
}
