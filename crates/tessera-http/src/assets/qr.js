/*
 * TesseraQR: a small, dependency-free QR code encoder (ISO/IEC 18004, model 2).
 *
 *   TesseraQR.encode(text, ecc)        -> { version, size, modules }  (modules[row][col], true = dark)
 *   TesseraQR.base45(bytes)            -> RFC 9285 Base45 string (QR alphanumeric set)
 *   TesseraQR.draw(canvas, qr, scale, quiet)
 *
 * Only the alphanumeric and byte (UTF-8) modes are produced: ticket payloads are
 * Base45 (alphanumeric, 5.5 bits per character) or short URLs/text.
 * Plain ES2017, works as a browser <script> and as a node module.
 */
(function (root) {
  'use strict';

  var ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

  // Error-correction level -> index into the tables below, and its 2-bit format code.
  var LEVELS = { L: 0, M: 1, Q: 2, H: 3 };
  var FORMAT_BITS = [1, 0, 3, 2];

  // Per version 1..40 (index 0 unused): EC codewords per block, and number of blocks,
  // for levels L, M, Q, H. Together with the version's total codeword count these
  // determine the whole block structure (short blocks first, long blocks have one
  // more data codeword).
  var EC_PER_BLOCK = [
    [-1, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    [-1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
    [-1, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    [-1, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30]
  ];
  var NUM_BLOCKS = [
    [-1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
    [-1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
    [-1, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
    [-1, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81]
  ];

  // Number of modules available for data + EC codewords (everything that is not a
  // function pattern, format or version info), derived from the symbol geometry.
  function rawDataModules(ver) {
    var n = (16 * ver + 128) * ver + 64;
    if (ver >= 2) {
      var a = Math.floor(ver / 7) + 2;
      n -= (25 * a - 10) * a - 55;     // alignment patterns, minus overlaps with timing
      if (ver >= 7) n -= 36;           // two 6x3 version info blocks
    }
    return n;
  }

  function dataCodewords(ver, lvl) {
    return Math.floor(rawDataModules(ver) / 8) - EC_PER_BLOCK[lvl][ver] * NUM_BLOCKS[lvl][ver];
  }

  // Centre coordinates of the alignment patterns: first at 6, last at size-7, the
  // rest evenly spaced with an even step (version 32 is the one irregular case).
  function alignmentPositions(ver) {
    if (ver === 1) return [];
    var count = Math.floor(ver / 7) + 2;
    var size = ver * 4 + 17;
    var step = ver === 32 ? 26 : Math.ceil((size - 13) / (count * 2 - 2)) * 2;
    var pos = [6];
    for (var i = count - 2; i >= 0; i--) pos.push(size - 7 - i * step);
    return pos;
  }

  // ---- GF(256) arithmetic with the QR primitive polynomial x^8+x^4+x^3+x^2+1 ----
  var EXP = new Array(512), LOG = new Array(256);
  (function () {
    var x = 1;
    for (var i = 0; i < 255; i++) {
      EXP[i] = x; LOG[x] = i;
      x <<= 1;
      if (x & 0x100) x ^= 0x11d;
    }
    for (var j = 255; j < 512; j++) EXP[j] = EXP[j - 255]; // avoid a modulo in mul
  })();
  function gfMul(a, b) { return a && b ? EXP[LOG[a] + LOG[b]] : 0; }

  // Generator polynomial prod (x - a^i), i = 0..degree-1; coefficients highest first,
  // leading 1 omitted.
  var genCache = {};
  function generator(degree) {
    if (genCache[degree]) return genCache[degree];
    var poly = [1];
    for (var i = 0; i < degree; i++) {
      var next = new Array(poly.length + 1).fill(0);
      for (var j = 0; j < poly.length; j++) {
        next[j] ^= poly[j];
        next[j + 1] ^= gfMul(poly[j], EXP[i]);
      }
      poly = next;
    }
    return (genCache[degree] = poly.slice(1));
  }

  // Remainder of data(x) * x^degree divided by the generator: the EC codewords.
  function rsRemainder(data, degree) {
    var gen = generator(degree), rem = new Array(degree).fill(0);
    for (var i = 0; i < data.length; i++) {
      var factor = data[i] ^ rem.shift();
      rem.push(0);
      for (var j = 0; j < degree; j++) rem[j] ^= gfMul(gen[j], factor);
    }
    return rem;
  }

  // ---- Data encoding ----
  function utf8(text) {
    var out = [];
    for (var i = 0; i < text.length; i++) {
      var c = text.codePointAt(i);
      if (c > 0xffff) i++; // surrogate pair consumed
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | c >> 6, 0x80 | c & 63);
      else if (c < 0x10000) out.push(0xe0 | c >> 12, 0x80 | c >> 6 & 63, 0x80 | c & 63);
      else out.push(0xf0 | c >> 18, 0x80 | c >> 12 & 63, 0x80 | c >> 6 & 63, 0x80 | c & 63);
    }
    return out;
  }

  function BitBuffer() { this.bits = []; }
  BitBuffer.prototype.put = function (value, len) {
    for (var i = len - 1; i >= 0; i--) this.bits.push((value >>> i) & 1);
  };

  // Character-count field width depends on the mode and the version range.
  function countBits(alnum, ver) {
    var range = ver < 10 ? 0 : ver < 27 ? 1 : 2;
    return (alnum ? [9, 11, 13] : [8, 16, 16])[range];
  }

  // Builds the segment (mode, count, payload) without the count's width being
  // known yet; returns the payload bits so each candidate version can reuse them.
  function payloadBits(text) {
    var alnum = true;
    for (var i = 0; i < text.length; i++) if (ALNUM.indexOf(text[i]) < 0) { alnum = false; break; }
    var buf = new BitBuffer(), count;
    if (alnum) {
      count = text.length;
      for (var k = 0; k + 1 < text.length; k += 2) buf.put(ALNUM.indexOf(text[k]) * 45 + ALNUM.indexOf(text[k + 1]), 11);
      if (text.length % 2) buf.put(ALNUM.indexOf(text[text.length - 1]), 6);
    } else {
      var bytes = utf8(text);
      count = bytes.length;
      for (var b = 0; b < bytes.length; b++) buf.put(bytes[b], 8);
    }
    return { alnum: alnum, count: count, bits: buf.bits };
  }

  // Full codeword sequence for the symbol: data, terminator, padding, then
  // Reed-Solomon per block and the standard's column-wise interleaving.
  function codewords(seg, ver, lvl) {
    var capacity = dataCodewords(ver, lvl) * 8;
    var buf = new BitBuffer();
    buf.put(seg.alnum ? 2 : 4, 4);
    buf.put(seg.count, countBits(seg.alnum, ver));
    Array.prototype.push.apply(buf.bits, seg.bits);
    buf.put(0, Math.min(4, capacity - buf.bits.length));   // terminator (may be truncated)
    buf.put(0, (8 - buf.bits.length % 8) % 8);             // byte align
    for (var pad = 0xec; buf.bits.length < capacity; pad ^= 0xec ^ 0x11) buf.put(pad, 8);

    var data = [];
    for (var i = 0; i < buf.bits.length; i += 8) {
      var byte = 0;
      for (var j = 0; j < 8; j++) byte = byte << 1 | buf.bits[i + j];
      data.push(byte);
    }

    var numBlocks = NUM_BLOCKS[lvl][ver], ecLen = EC_PER_BLOCK[lvl][ver];
    var total = Math.floor(rawDataModules(ver) / 8);
    var numShort = numBlocks - total % numBlocks;
    var shortData = Math.floor(total / numBlocks) - ecLen;
    var blocks = [], eccs = [], off = 0;
    for (var b = 0; b < numBlocks; b++) {
      var len = shortData + (b < numShort ? 0 : 1);
      var block = data.slice(off, off + len);
      off += len;
      blocks.push(block);
      eccs.push(rsRemainder(block, ecLen));
    }
    var out = [];
    for (var c = 0; c <= shortData; c++) {
      for (b = 0; b < numBlocks; b++) if (c < blocks[b].length) out.push(blocks[b][c]);
    }
    for (c = 0; c < ecLen; c++) for (b = 0; b < numBlocks; b++) out.push(eccs[b][c]);
    return out;
  }

  // ---- Symbol construction ----
  function Matrix(ver) {
    this.size = ver * 4 + 17;
    this.dark = [];
    this.fixed = []; // function modules: never carry data, never masked
    for (var r = 0; r < this.size; r++) {
      this.dark.push(new Array(this.size).fill(false));
      this.fixed.push(new Array(this.size).fill(false));
    }
  }
  Matrix.prototype.set = function (row, col, dark) {
    this.dark[row][col] = !!dark;
    this.fixed[row][col] = true;
  };

  function drawFunctionPatterns(m, ver) {
    var size = m.size, r, c;
    // Timing patterns (row 6 and column 6); finders overwrite their ends below.
    for (var i = 0; i < size; i++) { m.set(6, i, i % 2 === 0); m.set(i, 6, i % 2 === 0); }
    // Finder patterns with their light separators: concentric squares by Chebyshev distance.
    [[3, 3], [3, size - 4], [size - 4, 3]].forEach(function (ctr) {
      for (var dr = -4; dr <= 4; dr++) for (var dc = -4; dc <= 4; dc++) {
        r = ctr[0] + dr; c = ctr[1] + dc;
        if (r < 0 || c < 0 || r >= size || c >= size) continue;
        var d = Math.max(Math.abs(dr), Math.abs(dc));
        m.set(r, c, d !== 2 && d !== 4);
      }
    });
    // Alignment patterns everywhere on the position grid except over the finders.
    var pos = alignmentPositions(ver), last = pos.length - 1;
    pos.forEach(function (pr, a) {
      pos.forEach(function (pc, b) {
        if ((a === 0 && b === 0) || (a === 0 && b === last) || (a === last && b === 0)) return;
        for (var dr = -2; dr <= 2; dr++) for (var dc = -2; dc <= 2; dc++) {
          m.set(pr + dr, pc + dc, Math.max(Math.abs(dr), Math.abs(dc)) !== 1);
        }
      });
    });
    // Reserve the format areas now (real bits are written after masking) and
    // draw the version info, which does not depend on the mask.
    drawFormat(m, 0, 0);
    if (ver >= 7) {
      var rem = ver;
      for (i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25); // BCH(18,6)
      var bits = ver << 12 | rem;
      for (i = 0; i < 18; i++) {
        var bit = (bits >>> i) & 1, a2 = size - 11 + i % 3, b2 = Math.floor(i / 3);
        m.set(b2, a2, bit); // top-right block
        m.set(a2, b2, bit); // bottom-left block
      }
    }
  }

  // Format info: 2 EC-level bits + 3 mask bits, BCH(15,5) protected and XOR-masked
  // with 101010000010010 so it is never all light. Written twice.
  function drawFormat(m, lvl, mask) {
    var data = FORMAT_BITS[lvl] << 3 | mask, rem = data;
    for (var i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
    var bits = (data << 10 | rem) ^ 0x5412, size = m.size;
    function bit(k) { return (bits >>> k) & 1; }
    // Copy 1, around the top-left finder (skipping the timing row/column).
    for (i = 0; i <= 5; i++) m.set(i, 8, bit(i));
    m.set(7, 8, bit(6));
    m.set(8, 8, bit(7));
    m.set(8, 7, bit(8));
    for (i = 9; i < 15; i++) m.set(8, 14 - i, bit(i));
    // Copy 2, split between the top-right and bottom-left finders.
    for (i = 0; i < 8; i++) m.set(8, size - 1 - i, bit(i));
    for (i = 8; i < 15; i++) m.set(size - 15 + i, 8, bit(i));
    m.set(size - 8, 8, true); // the always-dark module
  }

  // Places codeword bits in the two-column zigzag from the bottom-right corner,
  // skipping function modules and the vertical timing column. Leftover
  // (remainder) modules stay light, i.e. remainder bits are 0.
  function placeData(m, cw) {
    var size = m.size, k = 0, total = cw.length * 8;
    for (var right = size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      var upward = ((right + 1) & 2) === 0;
      for (var v = 0; v < size; v++) {
        var row = upward ? size - 1 - v : v;
        for (var j = 0; j < 2; j++) {
          var col = right - j;
          if (m.fixed[row][col]) continue;
          if (k < total) m.dark[row][col] = ((cw[k >>> 3] >>> (7 - (k & 7))) & 1) === 1;
          k++;
        }
      }
    }
  }

  var MASKS = [
    function (r, c) { return (r + c) % 2 === 0; },
    function (r) { return r % 2 === 0; },
    function (r, c) { return c % 3 === 0; },
    function (r, c) { return (r + c) % 3 === 0; },
    function (r, c) { return (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0; },
    function (r, c) { return r * c % 2 + r * c % 3 === 0; },
    function (r, c) { return (r * c % 2 + r * c % 3) % 2 === 0; },
    function (r, c) { return ((r + c) % 2 + r * c % 3) % 2 === 0; }
  ];

  // XOR is its own inverse, so the same call applies and removes a mask.
  function applyMask(m, mask) {
    var f = MASKS[mask];
    for (var r = 0; r < m.size; r++) for (var c = 0; c < m.size; c++) {
      if (!m.fixed[r][c] && f(r, c)) m.dark[r][c] = !m.dark[r][c];
    }
  }

  // The four penalty rules of the standard; lower is better for scanners.
  function penalty(m) {
    var size = m.size, d = m.dark, score = 0, darkCount = 0, r, c;
    // Rules 1 and 3 on every row and every column.
    function line(get) {
      var s = 0, run = 1;
      for (var i = 0; i < size; i++) {
        if (i > 0 && get(i) === get(i - 1)) run++;
        else run = 1;
        if (run === 5) s += 3; else if (run > 5) s += 1;
        // Finder-like 1:1:3:1:1 dark run with 4 light modules on either side.
        if (i + 11 <= size) {
          var core = get(i + 4) && !get(i + 5) && get(i + 6) && get(i + 7) && get(i + 8) && !get(i + 9) && get(i + 10);
          var coreRev = get(i) && !get(i + 1) && get(i + 2) && get(i + 3) && get(i + 4) && !get(i + 5) && get(i + 6);
          if (core && !get(i) && !get(i + 1) && !get(i + 2) && !get(i + 3)) s += 40;
          if (coreRev && !get(i + 7) && !get(i + 8) && !get(i + 9) && !get(i + 10)) s += 40;
        }
      }
      return s;
    }
    for (r = 0; r < size; r++) {
      score += line(function (i) { return d[r][i]; });
      score += line(function (i) { return d[i][r]; });
    }
    // Rule 2: each 2x2 block of one colour.
    for (r = 0; r + 1 < size; r++) for (c = 0; c + 1 < size; c++) {
      var v = d[r][c];
      if (v === d[r][c + 1] && v === d[r + 1][c] && v === d[r + 1][c + 1]) score += 3;
    }
    // Rule 4: 10 points per 5% the dark proportion strays from 50%.
    for (r = 0; r < size; r++) for (c = 0; c < size; c++) if (d[r][c]) darkCount++;
    score += Math.floor(Math.abs(darkCount * 100 / (size * size) - 50) / 5) * 10;
    return score;
  }

  function encode(text, ecc) {
    text = String(text);
    var lvl = LEVELS[ecc === undefined ? 'M' : ecc];
    if (lvl === undefined) throw new Error('TesseraQR: error correction level must be L, M, Q or H');
    var seg = payloadBits(text), ver;
    for (ver = 1; ver <= 40; ver++) {
      var ccBits = countBits(seg.alnum, ver);
      if (seg.count < (1 << ccBits) && 4 + ccBits + seg.bits.length <= dataCodewords(ver, lvl) * 8) break;
    }
    if (ver > 40) {
      throw new Error('TesseraQR: data too long for a QR code (' + seg.count + (seg.alnum ? ' characters' : ' bytes') +
        ' does not fit in version 40 at level ' + (ecc || 'M') + ')');
    }
    var m = new Matrix(ver);
    drawFunctionPatterns(m, ver);
    placeData(m, codewords(seg, ver, lvl));
    var best = 0, bestScore = Infinity;
    for (var mask = 0; mask < 8; mask++) {
      applyMask(m, mask);
      drawFormat(m, lvl, mask);
      var s = penalty(m);
      if (s < bestScore) { bestScore = s; best = mask; }
      applyMask(m, mask); // undo
    }
    applyMask(m, best);
    drawFormat(m, lvl, best);
    return { version: ver, size: m.size, modules: m.dark };
  }

  // RFC 9285: each 2 bytes -> 3 characters (base-45 digits, least significant
  // first); a trailing single byte -> 2 characters.
  function base45(bytes) {
    var out = '';
    for (var i = 0; i < bytes.length; i += 2) {
      if (i + 1 < bytes.length) {
        var n = bytes[i] * 256 + bytes[i + 1];
        out += ALNUM[n % 45] + ALNUM[Math.floor(n / 45) % 45] + ALNUM[Math.floor(n / 2025)];
      } else {
        out += ALNUM[bytes[i] % 45] + ALNUM[Math.floor(bytes[i] / 45)];
      }
    }
    return out;
  }

  function draw(canvas, qr, scale, quiet) {
    scale = scale || 4;
    quiet = quiet === undefined ? 4 : quiet;
    var px = (qr.size + quiet * 2) * scale;
    canvas.width = px;
    canvas.height = px;
    var ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, px, px);
    ctx.fillStyle = '#000';
    for (var r = 0; r < qr.size; r++) for (var c = 0; c < qr.size; c++) {
      if (qr.modules[r][c]) ctx.fillRect((c + quiet) * scale, (r + quiet) * scale, scale, scale);
    }
  }

  var api = { encode: encode, base45: base45, draw: draw };
  root.TesseraQR = api;
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
})(typeof globalThis !== 'undefined' ? globalThis : this);
