"""What goes over the wire: checksums, plain-HTTP requests (part PUT, range GET, CopyObject),
signing helpers, stored-bytes checks, rate limits and the redaction of botocore's logs."""
