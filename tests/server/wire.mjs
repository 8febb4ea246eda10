// Minimal protobuf wire helpers for tests that speak the ingress protocol without our C code,
// the way a third-party SDK would: varints, length-delimited fields, fixed32/64.
export function varint(n) {
  const out = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}
export const fVarint = (f, v) => [...varint((f << 3) | 0), ...varint(v)];
export const fBytes = (f, bytes) => [...varint((f << 3) | 2), ...varint(bytes.length), ...bytes];
export const fString = (f, s) => fBytes(f, [...new TextEncoder().encode(s)]);

export function decode(buf) {
  const fields = [];
  let i = 0;
  const rv = () => {
    let v = 0n, s = 0n;
    for (;;) {
      const b = buf[i++];
      if (b === undefined) throw new Error('truncated varint');
      v |= BigInt(b & 0x7f) << s;
      s += 7n;
      if (!(b & 0x80)) return v;
    }
  };
  while (i < buf.length) {
    const key = Number(rv());
    const f = key >> 3, t = key & 7;
    if (t === 0) fields.push({ f, t, v: rv() });
    else if (t === 2) {
      const n = Number(rv());
      fields.push({ f, t, v: buf.subarray(i, i + n) });
      i += n;
    } else if (t === 5) { fields.push({ f, t, v: buf.readUInt32LE ? buf.readUInt32LE(i) : new DataView(buf.buffer, buf.byteOffset + i).getUint32(0, true) }); i += 4; }
    else if (t === 1) { fields.push({ f, t, v: new DataView(buf.buffer, buf.byteOffset + i).getBigUint64(0, true) }); i += 8; }
    else throw new Error('bad wire type ' + t);
  }
  return fields;
}
export const get = (fields, f) => fields.find((x) => x.f === f)?.v;
export const getAll = (fields, f) => fields.filter((x) => x.f === f).map((x) => x.v);

export const configure = (rate, format = 0) =>
  Uint8Array.from([...fVarint(1, 1), ...fBytes(2, [...fVarint(1, rate), ...fVarint(3, format)])]);
export const audio = (reqId, pcm, end) =>
  Uint8Array.from([...fVarint(1, 3), ...fBytes(4, [...fString(1, reqId), ...fVarint(2, end ? 1 : 0), ...fBytes(3, [...pcm])])]);
export const interrupt = (reqId) => Uint8Array.from([...fVarint(1, 7), ...fBytes(8, [...fString(1, reqId)])]);
