package org.sith.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Safetensors files assembled byte by byte, independently of {@link SafeTensorsWriter}. */
final class RawFiles {
    private RawFiles() {}

    /** 8-byte little-endian header length, the header JSON as given, then the data bytes. */
    static Path write(Path file, String headerJson, byte[] data) {
        byte[] header = headerJson.getBytes(StandardCharsets.UTF_8);
        return write(file, header.length, header, data);
    }

    /** Like {@link #write(Path, String, byte[])} but with a header length that may lie. */
    static Path write(Path file, long declaredHeaderLength, byte[] header, byte[] data) {
        ByteBuffer bb = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(declaredHeaderLength).put(header).put(data);
        return bytes(file, bb.array());
    }

    static Path bytes(Path file, byte[] content) {
        try {
            Files.write(file, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    static byte[] f32(float... values) {
        ByteBuffer bb = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) bb.putFloat(v);
        return bb.array();
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        ByteBuffer bb = ByteBuffer.allocate(n);
        for (byte[] p : parts) bb.put(p);
        return bb.array();
    }
}
