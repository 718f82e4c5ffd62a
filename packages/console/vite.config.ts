import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console's browser build: web/ → dist/web, served by the api at /console. No CDN, nothing fetched at
// run time; hashed file names under assets/, so the api can cache them for a year.
export default defineConfig({
  root: fileURLToPath(new URL('./web', import.meta.url)),
  base: '/console/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('./dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    // The strict CSP allows scripts from 'self' only: no inline module-preload polyfill.
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
});
