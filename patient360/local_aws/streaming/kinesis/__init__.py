"""Kinesis Data Streams beside MSK: the local stand-in (kinesalite), the boto3 client side and the landing."""
