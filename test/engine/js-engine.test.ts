import { createJsEngine } from '../../src/engine/js/engine.js';
import { runEngineConformance } from './conformance.js';

runEngineConformance('js', createJsEngine);
