// Copyright (c) 2026 fleet.pki contributors
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
// SPDX-License-Identifier: GPL-3.0-or-later

// A Java TLS client for the java trust store tests, run from source: java Client.java <url>
// HttpsURLConnection with the JVM's default trust store (or -Djavax.net.ssl.trustStore=...) and the
// default hostname verification. Prints "status=<code>" and the body; exit 0 on HTTP 200, 3 when
// TLS fails (an untrusted CA: "PKIX path building failed"), 4 on any other I/O error.

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLException;

public class Client {
    public static void main(String[] args) {
        try {
            HttpsURLConnection connection = (HttpsURLConnection) URI.create(args[0]).toURL().openConnection();
            connection.setConnectTimeout(10000);
            connection.setReadTimeout(10000);
            int status = connection.getResponseCode();
            String body;
            try (InputStream in = connection.getInputStream()) {
                body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            System.out.println("status=" + status);
            System.out.println(body);
            System.exit(status == 200 ? 0 : 1);
        } catch (SSLException e) {
            System.out.println("TLS failure: " + e);
            System.exit(3);
        } catch (IOException e) {
            System.out.println("I/O failure: " + e);
            System.exit(4);
        }
    }
}
