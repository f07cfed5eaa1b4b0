// Where a plane panel's slice images come from: the service (a stored case) or the
// uploaded files themselves. A source says whether it has CAM overlays, names each image
// (the name ends up in the image's data-src), and fetches it as a blob.

import { casePath, getBlob } from "./api.js";
import { readVolume, sliceBlob } from "./npy.js";

// A stored case; its CAM overlays are the map of `source.task` (set by the task switch).
export function caseSource(dataset, split, caseId) {
  const base = casePath(dataset, split, caseId);
  const source = { cam: true, task: null };
  const cam = () => `/cam.png${source.task ? `?task=${encodeURIComponent(source.task)}` : ""}`;
  const url = (plane, index, overlay) =>
    `${base}/${plane}/slices/${index}${overlay ? cam() : ".png"}`;
  source.describe = url;
  source.blob = (plane, index, overlay, signal) => getBlob(url(plane, index, overlay), signal);
  return source;
}

// `volumes` maps plane to what readPreview read (planes without a preview are not asked for).
export function uploadSource(volumes) {
  return {
    cam: false,
    describe: (plane, index) => `upload:${plane}/${index}`,
    blob: (plane, index) => sliceBlob(volumes[plane], index),
  };
}

// {volume, slices, image: true} for a file the browser can show, else {error: why not}.
export async function readPreview(file) {
  try {
    const volume = readVolume(await file.arrayBuffer());
    return { volume, slices: volume.slices, image: true };
  } catch (error) {
    return { error: `No preview of ${file.name}: ${error.message}.` };
  }
}
