/**
 * The self-contained HTML report page and its thumbnails.
 */
package org.sith.report;
