/** Renderer entry. The React UI (status, controls, conflicts) arrives with the companion issue. */
const root = document.getElementById('root');
if (root) root.textContent = 'TillSync';
