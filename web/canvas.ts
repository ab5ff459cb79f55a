/** Canvas helpers: show model-space images and grids, and a drawing pad that doubles as the image input. */
import { createImage, fitTo, imageFromRgba, imageToRgba, type Channels, type Image, type ImageShape } from "../src/io/image.js";
import { imageGrid } from "../src/io/png.js";

function context(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  return canvas.getContext("2d", { willReadFrequently: true })!;
}

export function showImage(canvas: HTMLCanvasElement, image: Image): void {
  canvas.width = image.width;
  canvas.height = image.height;
  context(canvas).putImageData(new ImageData(imageToRgba(image) as Uint8ClampedArray<ArrayBuffer>, image.width, image.height), 0, 0);
}

/** One model-shaped row (D values) on a canvas at the model's resolution (CSS scales it up). */
export function showExample(canvas: HTMLCanvasElement, x: Float32Array, shape: ImageShape): void {
  showImage(canvas, createImage(shape[1], shape[0], shape[2], x));
}

/** Rows of model-shaped images as a grid with thin light separators. */
export function showGrid(canvas: HTMLCanvasElement, x: Float32Array, shape: ImageShape, cols: number): void {
  const n = x.length / (shape[0] * shape[1] * shape[2]);
  showImage(canvas, imageGrid(x, [n, ...shape], { cols, pad: 1, padValue: 1 }));
}

/**
 * A canvas to draw on with the mouse or a finger (light strokes on black, like the digits
 * models are trained on); uploaded images are painted onto it so every input takes one path.
 */
export class DrawPad {
  private last: { x: number; y: number } | null = null;
  private readonly ctx: CanvasRenderingContext2D;

  constructor(readonly canvas: HTMLCanvasElement, private readonly onChange: () => void) {
    this.ctx = context(canvas);
    canvas.addEventListener("pointerdown", (e) => {
      canvas.setPointerCapture(e.pointerId);
      this.last = this.point(e);
      this.stroke(this.last);
    });
    canvas.addEventListener("pointermove", (e) => this.last && this.stroke(this.point(e)));
    const end = () => (this.last = null);
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  }

  /** Size the pad for a model input: about 10 pad pixels per model pixel. */
  resize(shape: ImageShape): void {
    const scale = Math.max(1, Math.floor(320 / Math.max(shape[0], shape[1])));
    this.canvas.width = shape[1] * scale;
    this.canvas.height = shape[0] * scale;
    this.clear();
  }

  clear(): void {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.onChange();
  }

  private point(e: PointerEvent) {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) / r.width) * this.canvas.width, y: ((e.clientY - r.top) / r.height) * this.canvas.height };
  }

  private stroke(to: { x: number; y: number }): void {
    const from = this.last ?? to;
    const c = this.ctx;
    c.strokeStyle = "#fff";
    c.lineCap = "round";
    c.lineJoin = "round";
    c.lineWidth = this.canvas.width / 11;
    c.beginPath();
    c.moveTo(from.x, from.y);
    c.lineTo(to.x + 0.01, to.y);
    c.stroke();
    this.last = to;
    this.onChange();
  }

  /** Paint a picture scaled to fit, centred on black. Returns true when it was inverted (dark on light). */
  paint(picture: CanvasImageSource & { width: number; height: number }, autoInvert: boolean): boolean {
    const { width: W, height: H } = this.canvas;
    const s = Math.min(W / picture.width, H / picture.height);
    const w = picture.width * s;
    const h = picture.height * s;
    const c = this.ctx;
    c.fillStyle = "#000";
    c.fillRect(0, 0, W, H);
    c.imageSmoothingEnabled = s < 1 || !Number.isInteger(s); // exact pixels for integer up-scaling
    c.drawImage(picture, (W - w) / 2, (H - h) / 2, w, h);
    const inverted = autoInvert && this.borderMean() > 0.5;
    if (inverted) {
      c.globalCompositeOperation = "difference";
      c.fillStyle = "#fff";
      c.fillRect(0, 0, W, H);
      c.globalCompositeOperation = "source-over";
    }
    this.onChange();
    return inverted;
  }

  /** Mean brightness of the outermost pixels, 0..1: a light border means dark-on-light. */
  private borderMean(): number {
    const { width: W, height: H } = this.canvas;
    const d = this.ctx.getImageData(0, 0, W, H).data;
    let sum = 0;
    let n = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (x > 0 && y > 0 && x < W - 1 && y < H - 1) continue;
        const p = (y * W + x) * 4;
        sum += (d[p] + d[p + 1] + d[p + 2]) / 765;
        n++;
      }
    }
    return sum / n;
  }

  /** The pad as a model input row. */
  read(shape: ImageShape): Float32Array {
    const { width: W, height: H } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, W, H).data;
    return fitTo(imageFromRgba(rgba, W, H, shape[2] as Channels), shape).data;
  }

  /** Show a model-space image on the pad (nearest-neighbour up-scaling). */
  show(x: Float32Array, shape: ImageShape): void {
    const small = document.createElement("canvas");
    showExample(small, x, shape);
    this.paint(small, false);
  }
}
