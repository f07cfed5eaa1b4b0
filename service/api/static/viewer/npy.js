// Reads .npy files in the browser, so an uploaded exam can be shown slice by slice.
// Only what a preview needs: a C-order 3-D array of a plain numeric type, scaled to 8 bits
// the way the service shows stored slices (uint8 as it is, anything else min-max over the volume).

const MAGIC = "\x93NUMPY";
const READERS = {
  u1: "getUint8", i1: "getInt8", b1: "getUint8",
  u2: "getUint16", i2: "getInt16", u4: "getUint32", i4: "getInt32",
  f4: "getFloat32", f8: "getFloat64",
};

function readHeader(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== MAGIC) throw new Error("not a .npy file");
  const view = new DataView(buffer);
  const major = bytes[6];
  const lengthSize = major === 1 ? 2 : 4;
  const length = lengthSize === 2 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lengthSize;
  const text = new TextDecoder().decode(bytes.subarray(start, start + length));
  return { text, offset: start + length };
}

function parseHeader(text) {
  const descr = /'descr':\s*'([<>|=])([a-z])(\d+)'/.exec(text);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(text);
  if (!descr || !shape) throw new Error("unreadable .npy header");
  if (/'fortran_order':\s*True/.test(text)) {
    throw new Error("Fortran-ordered arrays are not previewed");
  }
  const dims = shape[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  if (dims.length !== 3) {
    throw new Error(`a volume is 3-D, this array has shape (${dims.join(", ")})`);
  }
  const code = descr[2] + descr[3];
  if (!(code in READERS)) throw new Error(`the type ${code} is not previewed`);
  return { code, size: Number(descr[3]), little: descr[1] !== ">", shape: dims };
}

function toGray(buffer, offset, header) {
  const count = header.shape.reduce((a, b) => a * b, 1);
  if (offset + count * header.size > buffer.byteLength) throw new Error("the file is truncated");
  if (header.code === "u1") return new Uint8Array(buffer, offset, count);
  const view = new DataView(buffer, offset, count * header.size);
  const read = (i) => view[READERS[header.code]](i * header.size, header.little);
  let low = Infinity;
  let high = -Infinity;
  for (let i = 0; i < count; i += 1) {
    const v = read(i);
    if (v < low) low = v;
    if (v > high) high = v;
  }
  const scale = high > low ? 255 / (high - low) : 0;
  const gray = new Uint8Array(count);
  for (let i = 0; i < count; i += 1) gray[i] = Math.round((read(i) - low) * scale);
  return gray;
}

// A volume {slices, height, width, gray} from the bytes of a .npy file; throws Error with a reason.
export function readVolume(buffer) {
  const { text, offset } = readHeader(buffer);
  const header = parseHeader(text);
  const [slices, height, width] = header.shape;
  return { slices, height, width, gray: toGray(buffer, offset, header) };
}

// One slice of a volume as a PNG blob.
export async function sliceBlob(volume, index) {
  const { width, height, gray } = volume;
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  const start = index * width * height;
  for (let p = 0; p < width * height; p += 1) {
    const v = gray[start + p];
    image.data[p * 4] = v;
    image.data[p * 4 + 1] = v;
    image.data[p * 4 + 2] = v;
    image.data[p * 4 + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  return canvas.convertToBlob({ type: "image/png" });
}
