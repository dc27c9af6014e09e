/** The extension's own icon (the sidebar's tab, the board's tab): one prompt fanned out to many. */
import { LabIcon } from '@jupyterlab/ui-components';

/**
 * The dot, three answers of different lengths (`jp-icon3`: the theme's icon colour) and the
 * curves between them (`jp-icon-brand1`: the theme's brand colour), so both themes work.
 */
const FANOUT_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <circle cx="4" cy="12" r="2.5"/>
    <rect x="13" y="3" width="9" height="3" rx="1.5"/>
    <rect x="13" y="10.5" width="7" height="3" rx="1.5"/>
    <rect x="13" y="18" width="5" height="3" rx="1.5"/>
  </g>
  <g fill="none" stroke-width="1.6" stroke-linecap="round">
    <path class="jp-icon-brand1" stroke="#1976d2" d="M6.5 12 C9 12 9.5 4.5 12 4.5"/>
    <path class="jp-icon-brand1" stroke="#1976d2" d="M6.5 12 H12"/>
    <path class="jp-icon-brand1" stroke="#1976d2" d="M6.5 12 C9 12 9.5 19.5 12 19.5"/>
  </g>
</svg>`;

export const fanoutIcon = new LabIcon({ name: 'jupyterlab-fanout:fanout', svgstr: FANOUT_SVG });
