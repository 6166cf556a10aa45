// Measures the map against a manager holding a big fleet (10,000 assets / 50,000 edges): time
// from navigation start to the first draw ('map-drawn'), the /api/map fetch, and frame intervals
// while the sigma camera zooms and pans for 3 s, then while the mouse drags and wheels for 3 s
// (as a user interacts). Prints one JSON line; asserts nothing (timing
// is reported, never a test verdict).
//
// Env: OTWATCH_CONSOLE_URL, OTWATCH_TOKEN_VIEWER, CHROMIUM (default /usr/bin/chromium).

import { chromium } from "playwright-core";

const base = (process.env.OTWATCH_CONSOLE_URL || "").replace(/\/+$/, "");
const token = process.env.OTWATCH_TOKEN_VIEWER || "";
if (!base || !token) {
  console.error("bench: set OTWATCH_CONSOLE_URL and OTWATCH_TOKEN_VIEWER");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--disable-dev-shm-usage",
    ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
    // Extra flags, space-separated (e.g. --disable-http2 to look at HTTP/1.1 behaviour).
    ...(process.env.CHROMIUM_FLAGS ?? "").split(" ").filter(Boolean),
  ],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));

  await page.goto(`${base}/login`);
  await page.fill("#token", token);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login"), { timeout: 30000 }), page.click("#login-submit")]);

  // A fresh navigation so navigationStart is the map's own. OTWATCH_BENCH_PROFILE=FILE writes a
  // CPU profile of the page from there to the first draw (open it in chromium's DevTools).
  const profile = process.env.OTWATCH_BENCH_PROFILE;
  const cdp = profile ? await context.newCDPSession(page) : null;
  if (cdp) {
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
    await cdp.send("Profiler.start");
  }
  await page.goto(`${base}/map`);
  await page.waitForFunction(() => performance.getEntriesByName("map-drawn").length > 0, null, { timeout: 120000, polling: 100 });
  if (cdp) {
    const { profile: p } = await cdp.send("Profiler.stop");
    (await import("node:fs")).writeFileSync(profile, JSON.stringify(p));
  }
  await page.evaluate(() => window.__otwatch.ready);

  const load = await page.evaluate(() => {
    const drawn = performance.getEntriesByName("map-drawn")[0];
    const fetchEntry = performance.getEntriesByName("map-fetch")[0];
    const resource = performance.getEntriesByType("resource").find((r) => new URL(r.name).pathname === "/api/map");
    // Where the time to the first draw goes: start of the /api/map fetch, then each measured step.
    const phases = { fetch_start: performance.getEntriesByName("map-fetch")[0]?.startTime ?? null };
    for (const name of ["map-fetch", "map-build", "map-layout", "map-sigma"]) {
      phases[name.slice(4)] = performance.getEntriesByName(name)[0]?.duration ?? null;
    }
    return {
      phases,
      nodes: window.__otwatch.graph.order,
      edges: window.__otwatch.graph.size,
      first_draw_ms: drawn.startTime,
      fetch_ms: resource ? resource.responseEnd - resource.startTime : fetchEntry ? fetchEntry.duration : null,
    };
  });

  // Zoom and pan through the camera for 3 s, recording every frame's interval.
  const frames = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const camera = window.__otwatch.renderer.getCamera();
        const intervals = [];
        const start = performance.now();
        let last = start;
        function frame(now) {
          intervals.push(now - last);
          last = now;
          const t = (now - start) / 1000;
          // Zoom in and out twice while circling around the centre.
          camera.setState({ x: 0.5 + 0.25 * Math.cos(t * 2), y: 0.5 + 0.25 * Math.sin(t * 2), ratio: 0.6 + 0.45 * Math.cos(t * 4), angle: 0 });
          if (now - start < 3000) requestAnimationFrame(frame);
          else resolve(intervals.slice(1));
        }
        requestAnimationFrame((now) => {
          last = now;
          requestAnimationFrame(frame);
        });
      }),
  );
  // Then as a user does it: drag to pan and the wheel to zoom, with the mouse, for 3 s (sigma
  // hides edges and labels while the user moves the camera on big maps), recording frames alike.
  await page.evaluate(() => {
    window.__frames = [];
    let last = performance.now();
    window.__recording = true;
    function frame(now) {
      window.__frames.push(now - last);
      last = now;
      if (window.__recording) requestAnimationFrame(frame);
    }
    requestAnimationFrame((now) => {
      last = now;
      requestAnimationFrame(frame);
    });
  });
  const box = await page.locator(".map-canvas").first().boundingBox().catch(() => null);
  const cx = box ? box.x + box.width / 2 : 720;
  const cy = box ? box.y + box.height / 2 : 500;
  const until = Date.now() + 3000;
  let i = 0;
  while (Date.now() < until) {
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    for (let k = 1; k <= 10; k++) await page.mouse.move(cx + (i % 2 ? -1 : 1) * k * 12, cy + k * 6);
    await page.mouse.up();
    await page.mouse.wheel(0, i % 2 ? 240 : -240);
    i++;
  }
  const mouse = await page.evaluate(() => {
    window.__recording = false;
    return window.__frames.slice(1);
  });

  const pct = (xs, p) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null;
  };
  const round = (v) => (v === null ? null : Math.round(v * 10) / 10);
  console.log(
    JSON.stringify({
      nodes: load.nodes,
      edges: load.edges,
      first_draw_ms: round(load.first_draw_ms),
      fetch_ms: round(load.fetch_ms),
      phases_ms: Object.fromEntries(Object.entries(load.phases).map(([k, v]) => [k, round(v)])),
      frames: frames.length,
      p50_frame_ms: round(pct(frames, 50)),
      p95_frame_ms: round(pct(frames, 95)),
      mouse_frames: mouse.length,
      mouse_p50_frame_ms: round(pct(mouse, 50)),
      mouse_p95_frame_ms: round(pct(mouse, 95)),
    }),
  );
} finally {
  await browser.close();
}
