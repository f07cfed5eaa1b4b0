// One plane's panel: the slice image, its slider, and the attention bar chart under it.
// Slices are numbered from 1 on screen; `index` in code is the API's 0-based slice index.

export const PLANES = ["sagittal", "coronal", "axial"]; // as shown, left to right
const PAGE_STEP = 5;

function title(plane) {
  return plane[0].toUpperCase() + plane.slice(1);
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

export class PlanePanel {
  constructor(plane, template, onError) {
    this.plane = plane;
    this.onError = onError;
    this.count = 0;
    this.source = null;
    this.cam = false;
    this.truthName = "ACL";
    this.loading = null;
    this.root = template.content.firstElementChild.cloneNode(true);
    this.find();
    this.label();
    this.listen();
  }

  find() {
    const part = (selector) => this.root.querySelector(selector);
    this.heading = part(".plane-title");
    this.img = part(".slice");
    this.placeholder = part(".placeholder");
    this.slider = part(".slider");
    this.position = part(".position");
    this.chartTitle = part(".chart-title");
    this.bars = part(".bars");
    this.note = part(".chart-note");
  }

  label() {
    const name = title(this.plane);
    this.root.dataset.plane = this.plane;
    this.root.setAttribute("aria-labelledby", `${this.plane}-heading`);
    this.heading.id = `${this.plane}-heading`;
    this.heading.textContent = name;
    this.slider.id = `${this.plane}-slider`;
    this.root.querySelector(".slider-label").htmlFor = this.slider.id;
    this.root.querySelector(".slider-label").textContent = `${name} slice`;
    this.position.htmlFor = this.slider.id;
    this.chartTitle.id = `${this.plane}-chart`;
    this.chartTitle.textContent = `${name} attention per slice`;
    this.bars.setAttribute("aria-labelledby", this.chartTitle.id);
  }

  listen() {
    this.slider.addEventListener("input", () => this.show(this.slider.valueAsNumber - 1));
    this.slider.addEventListener("keydown", (event) => this.onSliderKey(event));
    this.bars.addEventListener("click", (event) => this.onBarClick(event));
    this.bars.addEventListener("keydown", (event) => this.onBarKey(event));
  }

  // A new exam: `count` slices whose images come from `source` (null: no images to show).
  reset(count, source, message = "") {
    this.count = count;
    this.source = source;
    this.slider.max = String(Math.max(count, 1));
    this.slider.disabled = count === 0;
    this.clearBars(count ? "Attention appears when the prediction is ready." : message);
    this.placeholder.textContent = message || "No image";
    this.goTo(Math.floor(count / 2));
  }

  setCam(on) {
    this.cam = on;
    if (this.count) this.load(this.index());
  }

  // The selected task's attention, opened on its top slice (the middle when none is positive).
  showTask(task, attention, topSlices, truth) {
    if (this.source && "task" in this.source) this.source.task = task;
    this.truthName = task === "acl" ? "ACL" : "finding";
    this.setAttention(attention, topSlices, truth);
    this.goTo(topSlices.length ? topSlices[0] : Math.floor(this.count / 2));
  }

  index() {
    return this.slider.valueAsNumber - 1;
  }

  goTo(index) {
    this.slider.value = String(index + 1);
    this.show(index);
  }

  show(index) {
    const text = this.count ? `slice ${index + 1} of ${this.count}` : "no slices";
    this.slider.setAttribute("aria-valuetext", text);
    const position = this.count ? `slice ${index + 1} / ${this.count}` : "slice – / –";
    this.position.textContent = position;
    this.markCurrentBar(index);
    this.load(index);
  }

  onSliderKey(event) {
    const moves = {
      PageUp: this.index() + PAGE_STEP,
      PageDown: this.index() - PAGE_STEP,
      Home: 0,
      End: this.count - 1,
    };
    if (!(event.key in moves) || !this.count) return;
    event.preventDefault();
    this.goTo(clamp(moves[event.key], 0, this.count - 1));
  }

  // Image loading: one request at a time per panel; a newer slice aborts the older request.
  async load(index) {
    this.loading?.abort();
    this.loading = null;
    if (!this.source || !this.count) {
      this.showImage(null, "", "");
      return;
    }
    const controller = new AbortController();
    this.loading = controller;
    const where = this.source.describe(this.plane, index, this.cam);
    this.root.setAttribute("aria-busy", "true");
    try {
      const blob = await this.source.blob(this.plane, index, this.cam, controller.signal);
      if (controller.signal.aborted) return;
      await this.showImage(blob, where, this.altText(index), controller.signal);
    } catch (error) {
      if (!controller.signal.aborted) this.onError(error);
    } finally {
      if (this.loading === controller) this.root.removeAttribute("aria-busy");
    }
  }

  altText(index) {
    const overlay = this.cam ? ", class activation map overlay" : "";
    return `${this.plane} slice ${index + 1} of ${this.count}${overlay}`;
  }

  // Shows the blob (or the placeholder for null) and frees the object URL it replaces; the
  // element keeps showing the old picture until the new one is decoded.
  async showImage(blob, where, alt, signal) {
    const previous = this.img.src;
    if (blob) {
      this.img.src = URL.createObjectURL(blob);
    } else {
      this.img.removeAttribute("src");
    }
    if (previous.startsWith("blob:")) URL.revokeObjectURL(previous);
    if (blob) {
      try {
        await this.img.decode();
      } catch {
        // superseded by a newer slice, or not an image: the alt text still says what it is
      }
    }
    if (signal?.aborted) return;
    this.img.alt = alt;
    this.img.dataset.src = where;
    this.img.hidden = !blob;
    this.placeholder.hidden = Boolean(blob);
  }

  clearBars(message) {
    this.bars.replaceChildren();
    this.note.textContent = message;
  }

  // The bar chart: one button per slice, height by attention; `truth` is [first, last] or null.
  setAttention(attention, topSlices, truth) {
    const highest = Math.max(...attention, 0);
    const bars = attention.map((value, index) => this.bar(value, index, highest, truth));
    this.bars.replaceChildren(...bars);
    this.note.textContent = this.chartNote(highest, topSlices, truth);
    this.markCurrentBar(this.index());
  }

  bar(value, index, highest, truth) {
    const button = document.createElement("button");
    const fill = document.createElement("span");
    const inTruth = truth && index >= truth[0] && index <= truth[1];
    button.type = "button";
    button.className = inTruth ? "bar truth" : "bar";
    button.dataset.index = String(index);
    button.tabIndex = -1;
    button.setAttribute(
      "aria-label",
      `slice ${index + 1}, attention ${value.toFixed(2)}` +
        (inTruth ? `, ground-truth ${this.truthName}` : ""),
    );
    fill.className = "fill";
    fill.style.setProperty("height", `${highest > 0 ? (100 * value) / highest : 0}%`);
    button.append(fill);
    return button;
  }

  chartNote(highest, topSlices, truth) {
    const parts = [];
    if (highest === 0) parts.push("No slice raised the logit (all attention 0).");
    if (topSlices.length) parts.push(`Top: ${topSlices.map((i) => i + 1).join(", ")}.`);
    if (truth) {
      parts.push(`Shaded: ground-truth ${this.truthName} slices ${truth[0] + 1}–${truth[1] + 1}.`);
    }
    return parts.join(" ");
  }

  // Roving focus: only the current slice's bar is in the tab order; arrows move along the chart.
  markCurrentBar(index) {
    for (const bar of this.bars.children) {
      const current = Number(bar.dataset.index) === index;
      bar.classList.toggle("current", current);
      bar.tabIndex = current ? 0 : -1;
      if (current) bar.setAttribute("aria-current", "true");
      else bar.removeAttribute("aria-current");
    }
  }

  onBarClick(event) {
    const bar = event.target.closest("button.bar");
    if (bar) this.goTo(Number(bar.dataset.index));
  }

  onBarKey(event) {
    const bar = event.target.closest("button.bar");
    const last = this.bars.children.length - 1;
    const steps = { ArrowLeft: -1, ArrowRight: 1, ArrowDown: -1, ArrowUp: 1 };
    let target;
    if (event.key in steps) target = clamp(Number(bar.dataset.index) + steps[event.key], 0, last);
    else if (event.key === "Home") target = 0;
    else if (event.key === "End") target = last;
    else return;
    event.preventDefault();
    const next = this.bars.children[target];
    for (const other of this.bars.children) other.tabIndex = other === next ? 0 : -1;
    next.focus();
  }
}
