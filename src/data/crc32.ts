// CRC-32 as zip computes it: zlib's (Node 20.15 and later), else a table-driven one. Checks that
// bytes read back are the bytes written (zip entries, cache files).
import zlib from "node:zlib";

function tableCrc32(): (data: Uint8Array) => number {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  return (data) => {
    let c = 0xffffffff;
    for (const byte of data) c = table[(c ^ byte) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
}

export const crc32: (data: Uint8Array) => number =
  (zlib as { crc32?: (data: Uint8Array) => number }).crc32 ?? tableCrc32();
