import { createJsEngine } from '../../src/engine/js/engine.js';
import { runEngineConformance } from './conformance.js';

runEngineConformance('js', createJsEngine);
// Every frame through the pacing worker: the path a message takes when its boundary is still ahead.
runEngineConformance('js (worker only)', () => createJsEngine({ directSend: false }));
