/**
 * SPEC §4, the concept dictionary: duplicates dropped, rows normalized, the shared direction removed, atoms
 * normalized again, and a fingerprint of what was prepared.
 */
package org.sith.concepts;
