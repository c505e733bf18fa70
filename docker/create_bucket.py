"""One-shot: wait for the S3 server, then create S3_BUCKET if it does not exist (docker-compose `createbucket`).

Runs in the portal's own image (boto3 is already there), with the same AWS_* and S3_* variables as the app.
"""

import os
import sys
import time

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError

bucket = os.environ["S3_BUCKET"]
s3 = boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None)
deadline = time.monotonic() + float(os.environ.get("CREATE_BUCKET_TIMEOUT", "90"))
while True:
    try:
        s3.head_bucket(Bucket=bucket)
        print(f"create_bucket: {bucket} exists")
        break
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)  # a server still starting may answer 503
            continue
        s3.create_bucket(Bucket=bucket)
        print(f"create_bucket: created {bucket}")
        break
    except EndpointConnectionError:
        if time.monotonic() > deadline:
            sys.exit(f"create_bucket: no S3 server answered at {os.environ.get('S3_ENDPOINT_URL')}")
        time.sleep(1)
