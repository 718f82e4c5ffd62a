export interface Series {
  key: string;
  label: string;
  /** A CSS class giving the bars their colour (the strict CSP allows no inline style attributes). */
  class: string;
}

const hourLabel = (iso: string) => new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });

/** The smallest "round" number (1, 2 or 5 × a power of ten, at least 2 and even) not below `n`. */
export function niceCeiling(n: number): number {
  if (n <= 2) return 2;
  const power = 10 ** Math.floor(Math.log10(n));
  const nice = [1, 2, 5, 10].map((m) => m * power).find((v) => v >= n)!;
  return nice % 2 === 0 ? nice : nice * 2;
}

/**
 * Stacked bars per hour as SVG, with its figures in a table next to it (a chart alone says nothing to a
 * screen reader): the SVG is one labelled image, the table is the data. The SVG stretches to its box, so its
 * axis labels are HTML around it (text inside a stretched SVG would be distorted).
 */
export function HourlyBars(props: { id: string; title: string; hours: Array<{ hour: string } & Record<string, number | string>>; series: Series[] }) {
  const width = 720;
  const height = 160;
  const totals = props.hours.map((h) => props.series.reduce((sum, s) => sum + Number(h[s.key] ?? 0), 0));
  const max = niceCeiling(Math.max(0, ...totals));
  const step = width / Math.max(1, props.hours.length);
  const barWidth = Math.max(2, step * 0.7);
  const y = (v: number) => height * (1 - v / max);
  const sums = props.series.map((s) => props.hours.reduce((sum, h) => sum + Number(h[s.key] ?? 0), 0));
  const summary = props.series.map((s, i) => `${sums[i]!.toLocaleString('en-GB')} ${s.label.toLowerCase()}`).join(', ');
  const ticks = props.hours.filter((_, i) => i % 6 === 0);
  return (
    <figure class="chart">
      <div class="chart-plot">
        <div class="y-axis" aria-hidden="true">
          <span>{max.toLocaleString('en-GB')}</span>
          <span>{(max / 2).toLocaleString('en-GB')}</span>
          <span>0</span>
        </div>
        <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby={`${props.id}-title`} preserveAspectRatio="none">
          <title id={`${props.id}-title`}>{`${props.title}: ${summary}`}</title>
          {[0, 0.5, 1].map((f) => (
            <line key={f} class="grid" x1={0} x2={width} y1={y(max * f)} y2={y(max * f)} vector-effect="non-scaling-stroke" />
          ))}
          {props.hours.map((h, i) => {
            let base = 0;
            const x = i * step + (step - barWidth) / 2;
            return (
              <g key={h.hour}>
                {props.series.map((s) => {
                  const v = Number(h[s.key] ?? 0);
                  const top = y(base + v);
                  const rect = <rect key={s.key} class={s.class} x={x} y={top} width={barWidth} height={Math.max(0, y(base) - top)} />;
                  base += v;
                  return rect;
                })}
              </g>
            );
          })}
        </svg>
        <div class="x-axis" aria-hidden="true">
          {ticks.map((h) => (
            <span key={h.hour}>{hourLabel(h.hour)}</span>
          ))}
          <span>now</span>
        </div>
      </div>
      <figcaption>
        <ul class="legend">
          {props.series.map((s, i) => (
            <li key={s.key}>
              <span class={`swatch ${s.class}`} aria-hidden="true" /> {s.label}: {sums[i]!.toLocaleString('en-GB')}
            </li>
          ))}
        </ul>
        <details>
          <summary>Figures per hour</summary>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Hour</th>
                  {props.series.map((s) => (
                    <th scope="col" key={s.key}>
                      {s.label}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {props.hours.map((h) => (
                  <tr key={h.hour}>
                    <th scope="row">{hourLabel(h.hour)}</th>
                    {props.series.map((s) => (
                      <td key={s.key}>{Number(h[s.key] ?? 0).toLocaleString('en-GB')}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      </figcaption>
    </figure>
  );
}
