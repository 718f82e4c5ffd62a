export interface Series {
  key: string;
  label: string;
  /** A CSS class giving the bars their colour (the strict CSP allows no inline style attributes). */
  class: string;
}

const hourLabel = (iso: string) => new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });

/**
 * Stacked bars per hour as SVG, with its figures in a table next to it (a chart alone says nothing to a
 * screen reader): the SVG is one labelled image, the table is the data.
 */
export function HourlyBars(props: { id: string; title: string; hours: Array<{ hour: string } & Record<string, number | string>>; series: Series[] }) {
  const width = 720;
  const height = 180;
  const pad = { left: 36, right: 8, top: 8, bottom: 22 };
  const totals = props.hours.map((h) => props.series.reduce((sum, s) => sum + Number(h[s.key] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const step = (width - pad.left - pad.right) / Math.max(1, props.hours.length);
  const barWidth = Math.max(2, step * 0.7);
  const y = (v: number) => pad.top + (height - pad.top - pad.bottom) * (1 - v / max);
  const sums = props.series.map((s) => props.hours.reduce((sum, h) => sum + Number(h[s.key] ?? 0), 0));
  const summary = props.series.map((s, i) => `${sums[i]!.toLocaleString('en-GB')} ${s.label.toLowerCase()}`).join(', ');
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby={`${props.id}-title`} preserveAspectRatio="none">
        <title id={`${props.id}-title`}>{`${props.title}: ${summary}`}</title>
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line class="grid" x1={pad.left} x2={width - pad.right} y1={y(max * f)} y2={y(max * f)} />
            <text class="axis" x={pad.left - 6} y={y(max * f) + 4} text-anchor="end">
              {Math.round(max * f).toLocaleString('en-GB')}
            </text>
          </g>
        ))}
        {props.hours.map((h, i) => {
          let base = 0;
          const x = pad.left + i * step + (step - barWidth) / 2;
          return (
            <g key={h.hour}>
              {props.series.map((s) => {
                const v = Number(h[s.key] ?? 0);
                const top = y(base + v);
                const rect = <rect key={s.key} class={s.class} x={x} y={top} width={barWidth} height={Math.max(0, y(base) - top)} />;
                base += v;
                return rect;
              })}
              {i % 6 === 0 && (
                <text class="axis" x={x + barWidth / 2} y={height - 6} text-anchor="middle">
                  {hourLabel(h.hour)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
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
