import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { Rng } from "../src/data/rng.js";
import { VaekitError } from "../src/errors.js";
import { loadImageFolder, naturalCompare, readImage, writePng } from "../src/io/files.js";
import {
  centerCrop,
  createImage,
  decodeImage,
  fitTo,
  type Image,
  imageFromRgba,
  imageToRgba,
  jpegComponentCount,
  padTo,
  resize,
  stackImages,
  toGray,
  toRgb,
  unstackImages,
} from "../src/io/image.js";
import { encodePng, heatColor, heatmapImage, imageGrid } from "../src/io/png.js";
import { Report } from "../src/io/report.js";
import { escapeXml, histogramCounts, linePlotSvg, niceTicks } from "../src/io/svg.js";

const dir = mkdtempSync(join(tmpdir(), "vaekit-io-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function randomImage(rng: Rng, width: number, height: number, channels: 1 | 3): Image {
  const image = createImage(width, height, channels);
  for (let i = 0; i < image.data.length; i++) image.data[i] = rng.uniform();
  return image;
}

/** Image with pixel (y, x, c) = f(y, x, c). */
function imageOf(width: number, height: number, channels: 1 | 3, f: (y: number, x: number, c: number) => number): Image {
  const image = createImage(width, height, channels);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < channels; c++) image.data[(y * width + x) * channels + c] = f(y, x, c);
  return image;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = "") {
  assert.equal(actual.length, expected.length, `${what} length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe("PNG", () => {
  const rng = new Rng(7);

  for (const channels of [1, 3] as const) {
    test(`round trip of random ${channels}-channel image is exact to half a level`, () => {
      const image = randomImage(rng, 13, 7, channels);
      const decoded = decodeImage(encodePng(image), "round-trip.png");
      assert.deepEqual([decoded.width, decoded.height, decoded.channels], [13, 7, channels]);
      assertClose(decoded.data, image.data, 0.5 / 255 + 1e-6, "pixel");
    });

    test(`round trip of exact ${channels}-channel levels is lossless`, () => {
      const image = imageOf(16, 16, channels, (y, x, c) => ((y * 16 + x + 85 * c) % 256) / 255);
      assertClose(decodeImage(encodePng(image)).data, image.data, 1e-7, "pixel");
    });
  }

  test("values outside [0, 1] and NaN are clamped when encoding", () => {
    const image = createImage(4, 1, 1, Float32Array.from([-0.5, 1.7, NaN, 0.5]));
    assertClose(decodeImage(encodePng(image)).data, [0, 1, 0, 128 / 255], 1e-7);
  });

  test("alpha is composited over the background, gray+alpha stays 1-channel", () => {
    const rgba = new PNG({ width: 2, height: 1 });
    rgba.data.set([255, 0, 0, 0, 0, 0, 255, 128]); // transparent red, half-transparent blue
    const bytes = PNG.sync.write(rgba); // colour type 6
    const white = decodeImage(bytes);
    assert.equal(white.channels, 3);
    assertClose(white.data, [1, 1, 1, 1 - 128 / 255, 1 - 128 / 255, 1], 1e-6);
    const black = decodeImage(bytes, "x.png", { background: 0 });
    assertClose(black.data, [0, 0, 0, 0, 0, 128 / 255], 1e-6);

    const grayAlpha = new PNG({ width: 1, height: 1 });
    grayAlpha.data.set([200, 200, 200, 255]);
    const gray = decodeImage(PNG.sync.write(grayAlpha, { colorType: 4 }));
    assert.equal(gray.channels, 1);
    assertClose(gray.data, [200 / 255], 1e-6);
  });

  test("RGBA helpers for canvases round trip", () => {
    const image = randomImage(rng, 3, 2, 3);
    const back = imageFromRgba(imageToRgba(image), 3, 2, 3);
    assertClose(back.data, image.data, 0.5 / 255 + 1e-6);
  });
});

describe("JPEG", () => {
  test("decodes a jpeg-js encoded RGB image approximately", () => {
    const width = 32;
    const height = 24;
    const rgba = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = (y * width + x) * 4;
        rgba.set([Math.round((x / (width - 1)) * 255), Math.round((y / (height - 1)) * 255), 128, 255], p);
      }
    }
    const bytes = jpeg.encode({ width, height, data: rgba }, 95).data;
    assert.equal(jpegComponentCount(bytes), 3);
    const image = decodeImage(bytes, "gradient.jpg");
    assert.deepEqual([image.width, image.height, image.channels], [width, height, 3]);
    let sumAbs = 0;
    for (let p = 0; p < width * height; p++) {
      for (let c = 0; c < 3; c++) sumAbs += Math.abs(image.data[p * 3 + c] - rgba[p * 4 + c] / 255);
    }
    const meanAbs = sumAbs / (width * height * 3);
    assert.ok(meanAbs < 0.01, `mean abs error ${meanAbs}`);
  });

  test("frame-header component count finds grayscale JPEGs", () => {
    // SOI, APP0 with a 4-byte segment, SOF0 declaring 16x16 with one component.
    const header = Uint8Array.from([
      0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x10, 0x00, 0x10, 0x01, 0x01,
      0x11, 0x00,
    ]);
    assert.equal(jpegComponentCount(header), 1);
  });
});

describe("channels", () => {
  test("RGB -> gray uses Rec. 601 luma and gray -> RGB replicates", () => {
    const rgb = createImage(1, 1, 3, Float32Array.from([1, 0.5, 0.25]));
    assertClose(toGray(rgb).data, [0.299 + 0.587 * 0.5 + 0.114 * 0.25], 1e-6);
    assertClose(toRgb(createImage(1, 1, 1, Float32Array.from([0.3]))).data, [0.3, 0.3, 0.3], 1e-7);
  });
});

describe("resize", () => {
  test("a constant image stays constant, growing and shrinking, at odd ratios", () => {
    const image = imageOf(7, 5, 3, (_y, _x, c) => [0.2, 0.5, 0.9][c]);
    for (const [h, w] of [
      [3, 2],
      [11, 13],
      [5, 3],
      [2, 9],
      [1, 1],
    ]) {
      const out = resize(image, h, w);
      assert.deepEqual([out.height, out.width, out.channels], [h, w, 3]);
      for (let p = 0; p < h * w; p++) assertClose(out.data.subarray(p * 3, p * 3 + 3), [0.2, 0.5, 0.9], 1e-6);
    }
  });

  test("shrinking averages the covered area", () => {
    // Row 0..3 / 3 halved: each output is the mean of two inputs.
    assertClose(resize(imageOf(4, 1, 1, (_y, x) => x / 3), 1, 2).data, [1 / 6, 5 / 6], 1e-6);
    // 3 -> 2: output 0 covers pixel 0 and half of pixel 1, output 1 the other half and pixel 2.
    assertClose(resize(imageOf(3, 1, 1, (_y, x) => x), 1, 2).data, [0.5 / 1.5, 2.5 / 1.5], 1e-6);
    // Same along the vertical axis.
    assertClose(resize(imageOf(1, 4, 1, (y) => y / 3), 2, 1).data, [1 / 6, 5 / 6], 1e-6);
    // An integer factor keeps the mean exactly.
    const random = randomImage(new Rng(3), 6, 6, 1);
    const small = resize(random, 2, 3);
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    assert.ok(Math.abs(mean(small.data) - mean(random.data)) < 1e-6);
  });

  test("growing interpolates between pixel centres", () => {
    // Centres of 4 outputs over 2 inputs sit at -0.25, 0.25, 0.75, 1.25 in input pixels (clamped).
    assertClose(resize(imageOf(2, 1, 1, (_y, x) => x), 1, 4).data, [0, 0.25, 0.75, 1], 1e-6);
    const up = resize(imageOf(2, 2, 1, (y, x) => x + 2 * y), 4, 4);
    assertClose(up.data.subarray(4, 8), [0.5, 0.75, 1.25, 1.5], 1e-6); // row at y = 0.25
  });
});

describe("crop, pad and fit", () => {
  const image = imageOf(4, 5, 1, (y, x) => y * 10 + x); // 5 rows, 4 columns

  test("centre crop takes the middle", () => {
    const out = centerCrop(image, 3, 2);
    assert.deepEqual([out.height, out.width], [3, 2]);
    assert.deepEqual(Array.from(out.data), [11, 12, 21, 22, 31, 32]);
    assert.throws(() => centerCrop(image, 6, 2), VaekitError);
  });

  test("pad centres the image on the fill value", () => {
    const out = padTo(image, 7, 6, -1);
    assert.deepEqual([out.height, out.width], [7, 6]);
    assert.equal(out.data[0], -1);
    assert.equal(out.data[1 * 6 + 1], 0); // image starts at (1, 1)
    assert.equal(out.data[5 * 6 + 4], 43);
    assert.equal(out.data.filter((v) => v === -1).length, 7 * 6 - 20);
  });

  test("fitTo reaches the target shape in every mode", () => {
    const tall = imageOf(10, 20, 3, () => 0.6);
    for (const mode of ["resize", "crop", "pad"] as const) {
      for (const shape of [[8, 8, 1], [28, 28, 3], [5, 12, 3]] as const) {
        const out = fitTo(tall, shape, { mode, padValue: 0 });
        assert.deepEqual([out.height, out.width, out.channels], [...shape], `${mode} ${shape}`);
      }
    }
    // Pad: the 20x10 image becomes 8x4 in the middle of 8x8, bars of 2 columns each side.
    const padded = fitTo(tall, [8, 8, 1], { mode: "pad", padValue: 0 });
    for (let y = 0; y < 8; y++) {
      assertClose(padded.data.subarray(y * 8, y * 8 + 8), [0, 0, 0.6, 0.6, 0.6, 0.6, 0, 0], 1e-6, `row ${y}`);
    }
    // Crop: a vertical ramp shrunk from 20 to 16 rows keeps its middle 8 rows (4..11). Row 7 of
    // 16 covers input rows [8.75, 10): a quarter of row 8 and all of row 9; row 8 mirrors it.
    const ramp = imageOf(10, 20, 1, (y) => (y + 0.5) / 20);
    const cropped = fitTo(ramp, [8, 8, 1], { mode: "crop" });
    const row7 = ((0.25 * 8.5 + 9.5) / 1.25) / 20;
    assertClose([cropped.data[3 * 8], cropped.data[4 * 8]], [row7, 1 - row7], 1e-6);
  });

  test("stack and unstack round trip", () => {
    const images = [randomImage(new Rng(1), 3, 2, 3), randomImage(new Rng(2), 3, 2, 3)];
    const { data, shape } = stackImages(images);
    assert.deepEqual(shape, [2, 2, 3, 3]);
    const back = unstackImages(data, shape);
    assert.deepEqual(Array.from(back[1].data), Array.from(images[1].data));
    assert.throws(() => stackImages([images[0], toGray(images[1])]), /image 1 is 2x3x1, expected 2x3x3/);
  });
});

describe("grid and heat map", () => {
  test("grid size arithmetic and cell placement", () => {
    const images = Array.from({ length: 5 }, (_, i) => imageOf(3, 4, 1, () => i / 10)); // 4 rows x 3 cols each
    const grid = imageGrid(images, { cols: 3, pad: 1, scale: 2, padValue: 0.9 });
    // width = 3 * (3 * 2) + 4 * 1 = 22, height = 2 * (4 * 2) + 3 * 1 = 19
    assert.deepEqual([grid.width, grid.height, grid.channels], [22, 19, 1]);
    const at = (y: number, x: number) => grid.data[y * grid.width + x];
    assert.equal(at(0, 0), Math.fround(0.9)); // border
    assert.equal(at(1, 1), Math.fround(0)); // image 0 top-left
    assert.equal(at(1, 1 + 6 + 1), Math.fround(0.1)); // image 1
    assert.equal(at(1 + 8 + 1, 1), Math.fround(0.3)); // image 3 starts row 2
    assert.equal(at(1 + 8 + 1 + 7, 1 + 6 + 1 + 5), Math.fround(0.4)); // image 4 bottom-right
    assert.equal(at(12, 18), Math.fround(0.9)); // empty sixth cell

    const { data, shape } = stackImages(images);
    assert.deepEqual(imageGrid(data, shape, { cols: 3, pad: 1, scale: 2, padValue: 0.9 }), grid);
    const square = imageGrid(data, [5, 4, 3], {}); // default: 3 columns, pad 2
    assert.deepEqual([square.width, square.height], [3 * 3 + 4 * 2, 2 * 4 + 3 * 2]);
  });

  test("mixed gray and RGB give an RGB grid; mismatched sizes are an error", () => {
    const grid = imageGrid([imageOf(2, 2, 1, () => 0.5), imageOf(2, 2, 3, () => 0.1)], { pad: 0 });
    assert.equal(grid.channels, 3);
    assertClose(grid.data.subarray(0, 3), [0.5, 0.5, 0.5], 1e-7);
    assert.throws(() => imageGrid([imageOf(2, 2, 1, () => 0), imageOf(3, 2, 1, () => 0)]), /image 1 is 2x3/);
  });

  test("heat map spans the colour scale and marks NaN gray", () => {
    const map = heatmapImage(Float32Array.from([2, 4, NaN, 3]), 2, 2);
    assert.equal(map.channels, 3);
    assertClose(map.data.subarray(0, 3), heatColor(0), 1e-6);
    assertClose(map.data.subarray(3, 6), heatColor(1), 1e-6);
    assertClose(map.data.subarray(6, 9), [0.5, 0.5, 0.5], 1e-6);
    assertClose(map.data.subarray(9, 12), heatColor(0.5), 1e-6);
    const luma = (t: number) => toGray(createImage(1, 1, 3, Float32Array.from(heatColor(t)))).data[0];
    for (let t = 0; t < 1; t += 0.05) assert.ok(luma(t + 0.05) > luma(t), `brightness rises at ${t}`);
  });
});

describe("files", () => {
  test("writePng then readImage round trips", () => {
    const image = randomImage(new Rng(5), 5, 4, 3);
    const path = join(dir, "out", "sub", "w.png");
    writePng(path, image);
    assertClose(readImage(path).data, image.data, 0.5 / 255 + 1e-6);
  });

  test("corrupt, unsupported and missing files name the file", () => {
    const garbage = join(dir, "garbage.png");
    writeFileSync(garbage, "hello, not an image");
    assert.throws(() => readImage(garbage), (e: unknown) => {
      assert.ok(e instanceof VaekitError);
      assert.equal(e.message, `${garbage}: not a PNG or JPEG image`);
      return true;
    });
    const truncated = join(dir, "truncated.png");
    writeFileSync(truncated, encodePng(randomImage(new Rng(1), 8, 8, 3)).subarray(0, 40));
    assert.throws(() => readImage(truncated), (e: unknown) => {
      assert.ok(e instanceof VaekitError);
      assert.ok(e.message.startsWith(`${truncated}: corrupt PNG (`), e.message);
      return true;
    });
    const badJpeg = join(dir, "bad.jpg");
    writeFileSync(badJpeg, Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 1, 2, 3]));
    assert.throws(() => readImage(badJpeg), new RegExp(`^VaekitError: ${escapeRe(badJpeg)}: corrupt`));
    const gif = join(dir, "anim.gif.png");
    writeFileSync(gif, "GIF89a....");
    assert.throws(() => readImage(gif), { message: `${gif}: GIF images are not supported (use PNG or JPEG)` });
    assert.throws(() => readImage(join(dir, "nope.png")), { message: `${join(dir, "nope.png")}: file not found` });
  });

  test("folders load in natural order, skipping hidden and non-image files", () => {
    const folder = join(dir, "flat");
    mkdirSync(folder);
    for (const [name, v] of [["img10.png", 0.1], ["img2.png", 0.2], [".hidden.png", 0.3]] as const) {
      writePng(join(folder, name), imageOf(4, 4, 1, () => v));
    }
    writeFileSync(join(folder, "notes.txt"), "x");
    const { images, files } = loadImageFolder(folder);
    assert.deepEqual(files, [join(folder, "img2.png"), join(folder, "img10.png")]);
    assertClose([images[0].data[0], images[1].data[0]], [51 / 255, 26 / 255], 1e-6);
    const fitted = loadImageFolder(folder, { shape: [2, 3, 3] });
    assert.deepEqual([fitted.images[0].height, fitted.images[0].width, fitted.images[0].channels], [2, 3, 3]);
  });

  test("folder-per-label gives labels and class names", () => {
    const root = join(dir, "labelled");
    for (const [cls, n] of [["dog", 2], ["cat", 3]] as const) {
      mkdirSync(join(root, cls), { recursive: true });
      for (let i = 0; i < n; i++) writePng(join(root, cls, `${i}.png`), imageOf(2, 2, 3, () => i / 4));
    }
    writeFileSync(join(root, "README.txt"), "ignored");
    const loaded = loadImageFolder(root, { labels: true });
    assert.deepEqual(loaded.classNames, ["cat", "dog"]);
    assert.deepEqual(Array.from(loaded.labels), [0, 0, 0, 1, 1]);
    assert.equal(loaded.images.length, 5);
    assert.equal(loaded.files[3], join(root, "dog", "0.png"));

    mkdirSync(join(root, "empty"));
    assert.throws(() => loadImageFolder(root, { labels: true }), { message: `${join(root, "empty")}: class folder has no PNG or JPEG images` });
    const none = join(dir, "none");
    mkdirSync(none);
    assert.throws(() => loadImageFolder(none), { message: `${none}: no PNG or JPEG images found` });
    assert.throws(() => loadImageFolder(join(dir, "missing")), /missing: folder not found/);
  });

  test("natural order", () => {
    assert.deepEqual(["b1", "a10", "a2", "a", "a2b"].sort(naturalCompare), ["a", "a2", "a2b", "a10", "b1"]);
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("SVG and report", () => {
  test("nice ticks", () => {
    assert.deepEqual(niceTicks(0, 0.93), { ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], lo: 0, hi: 1 });
    assert.deepEqual(niceTicks(-12, 37).ticks, [-20, -10, 0, 10, 20, 30, 40]);
    assert.ok(niceTicks(5, 5).ticks.length >= 2);
  });

  test("histogram counts use half-open bins with the top edge in the last bin", () => {
    assert.deepEqual(Array.from(histogramCounts([0, 0.49, 0.5, 1, 2, NaN], 2, 0, 1)), [2, 2]);
  });

  test("line plot draws one polyline per series and breaks at NaN", () => {
    const x = [0, 1, 2, 3];
    const svg = linePlotSvg({
      series: [
        { name: "train", x, y: [3, 2, 1.5, 1] },
        { name: "valid", x, y: [3.2, 2.4, NaN, 1.9] },
      ],
      title: "loss",
      xLabel: "epoch",
      yLabel: "nats",
    });
    assert.equal(count(svg, "<polyline"), 3);
    assert.ok(svg.startsWith("<svg") && svg.endsWith("</svg>"));
    assert.equal(count(svg, "<svg"), count(svg, "</svg>"));
    const log = linePlotSvg({ series: [{ name: "kl", x, y: [100, 10, 0, 1] }], logY: true });
    assert.equal(count(log, "<polyline"), 2); // y = 0 has no logarithm
    assert.ok(log.includes(">100<") && log.includes(">1<"));
  });

  test("report escapes text and holds a table and plots", () => {
    const path = join(dir, "report", "index.html");
    const report = new Report(`Run <1> & "friends"`)
      .heading("Results <b>")
      .paragraph("a < b && c > d")
      .table([
        { model: "vae<β>", nll: 93.123456, bits: 0.000012 },
        { model: "iwae", nll: 91.5, note: "k=50" },
      ])
      .image("samples.png", "Samples: 'prior'")
      .svgLinePlot({
        series: [
          { name: "a", x: [0, 1], y: [0, 1] },
          { name: "b", x: [0, 1], y: [1, 0] },
          { name: "c", x: [0, 1], y: [0.5, 0.5] },
        ],
        xLabel: "x",
        yLabel: "y",
      })
      .svgHistogram({ groups: [{ name: "normal", values: [1, 2, 2, 3] }, { name: "anomalous", values: [5, 6, 6] }] })
      .svgRoc({ curves: [{ name: "vae", fpr: [0, 0.1, 1], tpr: [0, 0.8, 1], auc: 0.85 }] });
    report.write(path);
    const html = readFileSync(path, "utf8");
    assert.ok(html.startsWith("<!DOCTYPE html>"));
    assert.ok(html.includes("<title>Run &lt;1&gt; &amp; &quot;friends&quot;</title>"));
    assert.ok(html.includes("<h2>Results &lt;b&gt;</h2>"));
    assert.ok(html.includes("<p>a &lt; b &amp;&amp; c &gt; d</p>"));
    assert.ok(!html.includes("<b>") && !html.includes("vae<β>"));
    assert.ok(html.includes("<th>model</th><th>nll</th><th>bits</th><th>note</th>"));
    assert.ok(html.includes(`<td>vae&lt;β&gt;</td><td class="num">93.12</td><td class="num">1.2e-5</td><td></td>`));
    assert.equal(count(html, "<tr>"), 3);
    assert.ok(html.includes(`<img src="samples.png" alt="Samples: &#39;prior&#39;">`));
    assert.equal(count(html, "<polyline"), 3 + 1); // line plot + ROC
    assert.ok(html.includes("vae (AUC 0.850)"));
    assert.ok(count(html, "<rect") > 4);
    assert.equal(escapeXml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });
});
