/**
 * The synthetic CLIP of the demo and the tests: a small model with concepts planted in known head write directions,
 * and its own BPE.
 */
package org.sith.demo;
