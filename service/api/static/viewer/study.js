// A DICOM study upload: the form's folder or zip as the service's form fields, and the
// answer's `input` (which series each plane used, which were not used and why).

const $ = (id) => document.getElementById(id);
const SHOWN = ["sagittal", "coronal", "axial"];

// The form data for a chosen folder (one `dicom` field per file) or zip (`study`), or an
// Error saying what to choose. A zip wins when both are chosen.
export function studyFormData(form) {
  const zip = form.elements.study.files[0];
  const files = [...form.elements.dicom.files];
  const data = new FormData();
  if (zip) {
    data.append("study", zip, zip.name);
  } else if (files.length) {
    for (const file of files) data.append("dicom", file, file.webkitRelativePath || file.name);
  } else {
    return new Error("Choose a DICOM folder or a study zip first.");
  }
  return data;
}

// "folder name (N files)" or the zip's name, for the exam's note.
export function studyName(form) {
  const zip = form.elements.study.files[0];
  if (zip) return zip.name;
  const files = [...form.elements.dicom.files];
  const folder = (files[0]?.webkitRelativePath || "").split("/")[0] || "folder";
  return `${folder} (${files.length} files)`;
}

function cell(text, header = false) {
  const element = document.createElement(header ? "th" : "td");
  if (header) element.scope = "row";
  element.textContent = text;
  return element;
}

function seriesName(series) {
  const number = series.series_number ?? "?";
  return `${number} ${series.series_description || "(no description)"}`.trim();
}

export function clearStudyInput() {
  $("study-input").hidden = true;
  $("series-rows").replaceChildren();
  $("series-not-used").replaceChildren();
}

export function showStudyInput(input) {
  clearStudyInput();
  if (!input) return;
  const rows = SHOWN.filter((plane) => input.planes[plane]).map((plane) => {
    const used = input.planes[plane];
    const row = document.createElement("tr");
    row.dataset.plane = plane;
    const spacing = `${used.pixel_spacing_mm.join(" × ")}, ${used.slice_spacing_mm} apart`;
    row.append(
      cell(plane, true),
      cell(seriesName(used)),
      cell(String(used.slices)),
      cell(spacing),
      cell(used.reason),
    );
    return row;
  });
  $("series-rows").replaceChildren(...rows);
  const items = input.not_used.map((series) => {
    const item = document.createElement("li");
    item.textContent = `${seriesName(series)}: ${series.reason}`;
    return item;
  });
  if (!items.length) {
    const none = document.createElement("li");
    none.textContent = "None: every series was used.";
    items.push(none);
  }
  $("series-not-used").replaceChildren(...items);
  $("study-input").hidden = false;
}
