// The mask painter's browser side (anywidget, a plain ES module: no build step).
// Each finished stroke is appended to the synced `strokes` trait in the image's own pixel coordinates;
// Python draws the mask at full resolution from them. Nothing is kept here that Python does not have.
// From the keyboard: Tab to the image, the arrow keys move a rectangle (Shift + arrows: resize it), Enter
// paints it (or erases it, with the eraser), as a "rect" stroke like Python's painter.add_rect.

const COLOR = "rgb(255, 40, 90)";

function el(tag, className, attrs = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function drawStroke(ctx, stroke, scale) {
  const pts = stroke.points || [];
  if (!pts.length) return;
  ctx.save();
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  ctx.globalCompositeOperation = stroke.erase ? "destination-out" : "source-over";
  ctx.fillStyle = ctx.strokeStyle = COLOR;
  if ((stroke.kind === "rect" || stroke.kind === "ellipse") && pts.length >= 2) {
    const [[xa, ya], [xb, yb]] = pts;
    const x = Math.min(xa, xb), y = Math.min(ya, yb), w = Math.abs(xb - xa), h = Math.abs(yb - ya);
    ctx.beginPath();
    if (stroke.kind === "rect") ctx.rect(x, y, w, h);
    else ctx.ellipse(x + w / 2, y + h / 2, w / 2, h / 2, 0, 0, 2 * Math.PI);
    ctx.fill();
  } else {
    const size = Math.max(1, stroke.size || 1);
    if (pts.length === 1) {
      ctx.beginPath();
      ctx.arc(pts[0][0], pts[0][1], size / 2, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      ctx.lineWidth = size;
      ctx.lineCap = ctx.lineJoin = "round";
      ctx.beginPath();
      ctx.moveTo(pts[0][0], pts[0][1]);
      for (const [x, y] of pts.slice(1)) ctx.lineTo(x, y);
      ctx.stroke();
    }
  }
  ctx.restore();
}

function render({ model, el: host }) {
  const root = el("div", "wisgate-painter");
  const bar = el("div", "wisgate-painter-bar");
  const button = (action, text, title) => {
    const b = el("button", "wisgate-painter-button", { type: "button", "data-action": action, title });
    b.textContent = text;
    bar.appendChild(b);
    return b;
  };
  const brushButton = button("brush", "Brush", "paint the area to change");
  const eraserButton = button("eraser", "Eraser", "take paint away");
  const sizeLabel = el("label", "wisgate-painter-size-label");
  const size = el("input", "wisgate-painter-size", { type: "range", min: "1", "aria-label": "brush size" });
  const sizeText = el("span", "wisgate-painter-size-text");
  sizeLabel.append("size ", size, sizeText);
  bar.appendChild(sizeLabel);
  const undoButton = button("undo", "Undo", "take back the last stroke");
  const clearButton = button("clear", "Clear", "remove every stroke");
  const status = el("span", "wisgate-painter-status", { "aria-live": "polite" });
  bar.appendChild(status);

  const stage = el("div", "wisgate-painter-stage");
  const img = el("img", "wisgate-painter-image", { alt: "the image to paint on", draggable: "false" });
  const canvas = el("canvas", "wisgate-painter-canvas", {
    tabindex: "0", role: "img",
    "aria-label": "the image to paint on: arrow keys move a rectangle, Shift with the arrow keys resizes it, "
      + "Enter paints it (erases it with the eraser)",
  });
  const cursor = el("div", "wisgate-painter-cursor");
  const box = el("div", "wisgate-painter-keybox");
  stage.append(img, canvas, cursor, box);
  root.append(bar, stage);
  host.appendChild(root);

  let current = null; // the stroke under the pointer, until it is finished
  const ctx = canvas.getContext("2d");
  const scale = () => canvas.width / Math.max(1, model.get("width"));

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const stroke of model.get("strokes")) drawStroke(ctx, stroke, scale());
    if (current) drawStroke(ctx, current, scale());
  }

  function sizeCanvas() {
    // The canvas has the preview's pixels; CSS stretches both to the same box.
    const w = model.get("width"), h = model.get("height");
    const px = img.naturalWidth || Math.min(768, w);
    canvas.width = px;
    canvas.height = Math.max(1, Math.round((px * h) / w));
    stage.style.aspectRatio = `${w} / ${h}`;
    stage.style.width = `${px}px`;
    redraw();
  }

  function showState() {
    const tool = model.get("tool");
    brushButton.classList.toggle("wisgate-active", tool === "brush");
    eraserButton.classList.toggle("wisgate-active", tool === "eraser");
    brushButton.setAttribute("aria-pressed", String(tool === "brush"));
    eraserButton.setAttribute("aria-pressed", String(tool === "eraser"));
    size.max = String(Math.max(8, Math.round(Math.max(model.get("width"), model.get("height")) / 4)));
    size.value = String(model.get("brush"));
    sizeText.textContent = ` ${model.get("brush")} px`;
    const n = model.get("strokes").length;
    status.textContent = n ? `${n} stroke${n === 1 ? "" : "s"}` : "paint the area to change";
    undoButton.disabled = clearButton.disabled = n === 0;
  }

  function toImage(event) {
    const r = canvas.getBoundingClientRect();
    const w = model.get("width"), h = model.get("height");
    const x = Math.min(w, Math.max(0, ((event.clientX - r.left) / r.width) * w));
    const y = Math.min(h, Math.max(0, ((event.clientY - r.top) / r.height) * h));
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }

  function moveCursor(event) {
    const r = canvas.getBoundingClientRect();
    const d = (model.get("brush") * r.width) / Math.max(1, model.get("width"));
    Object.assign(cursor.style, {
      display: "block", width: `${d}px`, height: `${d}px`,
      left: `${event.clientX - r.left - d / 2}px`, top: `${event.clientY - r.top - d / 2}px`,
    });
  }

  function onDown(event) {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    current = { kind: "line", erase: model.get("tool") === "eraser", size: model.get("brush"),
                points: [toImage(event)] };
    redraw();
  }

  function onMove(event) {
    moveCursor(event);
    if (!current) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const e of events.length ? events : [event]) {
      const p = toImage(e), last = current.points[current.points.length - 1];
      if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= 1) current.points.push(p);
    }
    redraw();
  }

  function onUp() {
    if (!current) return;
    const stroke = current;
    current = null;
    model.set("strokes", [...model.get("strokes"), stroke]);
    model.save_changes();
  }

  // The keyboard's rectangle, in image pixels: a quarter of the image, in its middle, until moved.
  let rect = null;
  function showBox() {
    if (!rect) { box.style.display = "none"; return; }
    const w = model.get("width"), h = model.get("height");
    Object.assign(box.style, {
      display: "block", left: `${(rect.x / w) * 100}%`, top: `${(rect.y / h) * 100}%`,
      width: `${(rect.w / w) * 100}%`, height: `${(rect.h / h) * 100}%`,
    });
  }
  canvas.addEventListener("focus", () => {
    const w = model.get("width"), h = model.get("height");
    if (!rect) rect = { x: Math.round(w * 0.375), y: Math.round(h * 0.375), w: Math.round(w / 4), h: Math.round(h / 4) };
    showBox();
  });
  canvas.addEventListener("blur", () => { box.style.display = "none"; });
  // On the window, in the capture phase: a notebook's own shortcuts (Notebook 7 takes the arrow keys in the
  // capture phase on the document; JupyterLab takes Enter) must not get the keys while the image has the focus.
  const onKey = (event) => {
    if (!rect || !event.composedPath().includes(canvas)) return;
    const w = model.get("width"), h = model.get("height");
    const step = Math.max(1, Math.round(Math.max(w, h) / 20));
    const move = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[event.key];
    if (move) {
      if (event.shiftKey) {
        rect.w = Math.min(w, Math.max(step, rect.w + move[0]));
        rect.h = Math.min(h, Math.max(step, rect.h + move[1]));
      } else {
        rect.x += move[0];
        rect.y += move[1];
      }
      rect.x = Math.min(w - rect.w, Math.max(0, rect.x));
      rect.y = Math.min(h - rect.h, Math.max(0, rect.y));
      showBox();
    } else if (event.key === "Enter" || event.key === " ") {
      const stroke = { kind: "rect", erase: model.get("tool") === "eraser", size: 0,
                       points: [[rect.x, rect.y], [rect.x + rect.w, rect.y + rect.h]] };
      model.set("strokes", [...model.get("strokes"), stroke]);
      model.save_changes();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  };
  window.addEventListener("keydown", onKey, true);

  const setTool = (tool) => () => { model.set("tool", tool); model.save_changes(); };
  brushButton.addEventListener("click", setTool("brush"));
  eraserButton.addEventListener("click", setTool("eraser"));
  undoButton.addEventListener("click", () => {
    model.set("strokes", model.get("strokes").slice(0, -1));
    model.save_changes();
  });
  clearButton.addEventListener("click", () => { model.set("strokes", []); model.save_changes(); });
  size.addEventListener("input", () => { model.set("brush", Number(size.value)); model.save_changes(); });
  canvas.addEventListener("pointerdown", onDown);
  canvas.addEventListener("pointermove", onMove);
  canvas.addEventListener("pointerup", onUp);
  canvas.addEventListener("pointercancel", onUp);
  canvas.addEventListener("pointerleave", () => { cursor.style.display = "none"; });
  img.addEventListener("load", sizeCanvas);

  const onStrokes = () => { redraw(); showState(); };
  const onPreview = () => { img.src = model.get("preview"); };
  model.on("change:strokes", onStrokes);
  model.on("change:tool", showState);
  model.on("change:brush", showState);
  model.on("change:preview", onPreview);
  onPreview();
  sizeCanvas();
  showState();
  return () => {
    window.removeEventListener("keydown", onKey, true);
    model.off("change:strokes", onStrokes);
    model.off("change:tool", showState);
    model.off("change:brush", showState);
    model.off("change:preview", onPreview);
  };
}

export default { render };
