import type { CallEvent } from '../../src/activity.js';
import { formatClock, formatMs } from '../format.js';
import { Badge, type Tone } from './ui.js';

const WINDOW_MS = 60_000;
const WIDTH = 1000;
const LANE = 34;
const LEFT = 130;
const RIGHT = 16;
const TOP = 10;

const TONE: Record<CallEvent['source'], Tone> = {
  cache: 'cache',
  upstream: 'upstream',
  error: 'error',
  mutation: 'warn',
};

const LABEL: Record<CallEvent['source'], string> = {
  cache: 'cache',
  upstream: 'upstream',
  error: 'error',
  mutation: 'mutation',
};

/** `retried after HTTP 503` / `2 retries: HTTP 503, ECONNREFUSED`; `''` without retries. */
function retriedText(event: CallEvent): string {
  const reasons = [...new Set(event.retryReasons)].join(', ');
  if (event.attempts <= 1) return '';
  return event.attempts === 2 ? `retried after ${reasons}` : `${event.attempts - 1} retries: ${reasons}`;
}

/** The last minute of calls, one lane per procedure, plus the latest calls as a list. */
export function Timeline({ events, lanes, now }: { events: CallEvent[]; lanes: string[]; now: number }) {
  const height = TOP + lanes.length * LANE + 26;
  const x = (at: number) => LEFT + ((at - (now - WINDOW_MS)) / WINDOW_MS) * (WIDTH - LEFT - RIGHT);
  const visible = events.filter((event) => event.at >= now - WINDOW_MS);
  const latest = events.slice(-8).reverse();

  return (
    <section className="card timeline-card" data-testid="timeline">
      <header className="card-head">
        <div>
          <h2>Live timeline</h2>
          <p className="muted small">Every call of the last minute, and where its answer came from.</p>
        </div>
        <div className="legend">
          <span className="legend-item">
            <i className="dot dot-cache" /> server cache
          </span>
          <span className="legend-item">
            <i className="dot dot-upstream" /> upstream
          </span>
          <span className="legend-item">
            <i className="dot dot-retried" /> upstream, retried
          </span>
          <span className="legend-item">
            <i className="dot dot-mutation" /> mutation
          </span>
          <span className="legend-item">
            <i className="dot dot-error" /> error
          </span>
        </div>
      </header>

      <svg
        className="timeline"
        viewBox={`0 0 ${WIDTH} ${height}`}
        role="img"
        aria-label="Calls of the last minute by procedure"
      >
        {lanes.map((lane, i) => {
          const y = TOP + i * LANE + LANE / 2;
          return (
            <g key={lane}>
              <text x={0} y={y + 4} className="lane-label">
                {lane}
              </text>
              <line x1={LEFT} x2={WIDTH - RIGHT} y1={y} y2={y} className="lane-line" />
            </g>
          );
        })}
        {[60, 45, 30, 15, 0].map((secondsAgo) => {
          const at = now - secondsAgo * 1000;
          return (
            <g key={secondsAgo}>
              <line x1={x(at)} x2={x(at)} y1={TOP} y2={TOP + lanes.length * LANE} className="grid-line" />
              <text x={x(at)} y={height - 6} className="axis-label" textAnchor="middle">
                {secondsAgo === 0 ? 'now' : `−${secondsAgo} s`}
              </text>
            </g>
          );
        })}
        {visible.map((event) => {
          const lane = lanes.indexOf(event.path);
          if (lane < 0) return null;
          const y = TOP + lane * LANE + LANE / 2;
          const retried = event.attempts > 1;
          return (
            <g key={event.id} className="event">
              <title>
                {`${formatClock(event.at)} ${event.path}${event.label ? `(${event.label})` : ''}: ${LABEL[event.source]}, ${formatMs(event.ms)}, ${event.attempts} upstream attempt(s)${retriedText(event)}${event.error ? ` — ${event.error}` : ''}`}
              </title>
              {retried && <circle cx={x(event.at)} cy={y} r={10} className="ring-retried" />}
              <circle cx={x(event.at)} cy={y} r={6} className={`dot-${event.source}`} />
            </g>
          );
        })}
      </svg>

      <table className="events" data-testid="events">
        <thead>
          <tr>
            <th>Time</th>
            <th>Call</th>
            <th>Answer</th>
            <th className="num">Upstream attempts</th>
            <th className="num">Duration</th>
          </tr>
        </thead>
        <tbody>
          {latest.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                No calls yet.
              </td>
            </tr>
          )}
          {latest.map((event) => (
            <tr key={event.id} data-source={event.source}>
              <td className="mono muted">{formatClock(event.at)}</td>
              <td className="mono">
                {event.path}
                {event.label && <span className="muted">({event.label})</span>}
              </td>
              <td>
                <Badge tone={TONE[event.source]}>{LABEL[event.source]}</Badge>
                {event.error && <span className="event-error">{event.error}</span>}
              </td>
              <td className="num">
                {event.attempts > 1 && <span className="muted retried">{retriedText(event)} · </span>}
                {event.attempts}
              </td>
              <td className="num mono">{formatMs(event.ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
