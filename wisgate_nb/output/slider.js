// The compare slider's browser side (anywidget, a plain ES module: no build step).
// Image b lies over image a, shown right of the divider; `position` (0-100, synced) is where the divider is.

function el(tag, className, attrs = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function render({ model, el: host }) {
  const root = el("div", "wisgate-slider", {
    tabindex: "0", role: "slider", "aria-valuemin": "0", "aria-valuemax": "100",
    "aria-label": "divider between the two images: drag it, or use the arrow keys",
  });
  const a = el("img", "wisgate-slider-a", { draggable: "false" });
  const top = el("div", "wisgate-slider-top");
  const b = el("img", "wisgate-slider-b", { draggable: "false" });
  top.appendChild(b);
  const divider = el("div", "wisgate-slider-divider");
  divider.appendChild(el("div", "wisgate-slider-handle"));
  const labelA = el("span", "wisgate-slider-label wisgate-slider-label-a");
  const labelB = el("span", "wisgate-slider-label wisgate-slider-label-b");
  root.append(a, top, divider, labelA, labelB);
  host.appendChild(root);

  let dragging = false;
  const set = (value) => {
    model.set("position", Math.min(100, Math.max(0, Math.round(value * 10) / 10)));
    model.save_changes();
  };
  const fromEvent = (event) => {
    const r = root.getBoundingClientRect();
    return ((event.clientX - r.left) / r.width) * 100;
  };

  function show() {
    const p = model.get("position");
    top.style.clipPath = `inset(0 0 0 ${p}%)`;
    divider.style.left = `${p}%`;
    root.setAttribute("aria-valuenow", String(p));
  }
  function showImages() {
    a.src = model.get("a");
    b.src = model.get("b");
    a.alt = labelA.textContent = model.get("label_a");
    b.alt = labelB.textContent = model.get("label_b");
    root.style.width = `${model.get("width_px")}px`;
  }

  root.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    root.focus();
    root.setPointerCapture(event.pointerId);
    dragging = true;
    set(fromEvent(event));
  });
  root.addEventListener("pointermove", (event) => { if (dragging) set(fromEvent(event)); });
  const stop = () => { dragging = false; };
  root.addEventListener("pointerup", stop);
  root.addEventListener("pointercancel", stop);
  // On the window, in the capture phase: a notebook's own shortcuts (Notebook 7 takes the arrow keys in
  // the capture phase on the document) must not get the keys while the slider has the focus.
  const onKey = (event) => {
    if (!event.composedPath().includes(root)) return;
    const step = event.shiftKey ? 10 : 2, p = model.get("position");
    const next = { ArrowLeft: p - step, ArrowDown: p - step, ArrowRight: p + step, ArrowUp: p + step,
                   PageDown: p - 10, PageUp: p + 10, Home: 0, End: 100 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    event.stopPropagation();
    set(next);
  };
  window.addEventListener("keydown", onKey, true);

  const names = ["change:a", "change:b", "change:label_a", "change:label_b", "change:width_px"];
  model.on("change:position", show);
  for (const name of names) model.on(name, showImages);
  showImages();
  show();
  return () => {
    window.removeEventListener("keydown", onKey, true);
    model.off("change:position", show);
    for (const name of names) model.off(name, showImages);
  };
}

export default { render };
